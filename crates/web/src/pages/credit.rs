//! The credit reviewer's lookup (征信查询, R-USR-3): exact name plus full ID number, with a
//! purpose. The typed ID number is never echoed back; the answer is masked like every page.

use pcis_service::customers::CreditView;

use super::*;
use crate::inputs::CreditLookupInput;
use crate::views::money;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/credit", get(form).post(lookup))
}

/// A hit: labelled facts, and the holdings as the service gives them (masked).
struct Hit {
    facts: Vec<Fact>,
    holdings: Vec<pcis_service::Holding>,
}

struct Fact {
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "credit.html")]
struct CreditPage {
    ctx: Ctx,
    name: String,
    purpose: String,
    errors: FieldErrors,
    /// `None` before a lookup; `Some(None)` for a miss.
    result: Option<Option<Hit>>,
}

fn blank(st: &AppState, lang: Lang, auth: &Auth) -> CreditPage {
    CreditPage {
        ctx: ctx(st, lang, auth, "/credit").crumb("credit.title", "").watermarked(st.app.clock.now()),
        name: String::new(),
        purpose: String::new(),
        errors: FieldErrors::default(),
        result: None,
    }
}

async fn form(Req { st, lang, meta, auth }: Req) -> PageResult {
    // The page itself needs the permission (and a refusal is audited).
    st.app.require(&auth.session.actor, &meta, AuditAction::CustomerCreditLookup).await?;
    Ok(render(&blank(&st, lang, &auth)))
}

fn hit(lang: Lang, v: CreditView) -> Hit {
    let r = &v.record;
    let code = |group: &str, c: &str| label(lang, group, c);
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    Hit {
        facts: vec![
            Fact { label: t(lang, "customer.no"), value: r.summary.customer_no.clone() },
            Fact { label: t(lang, "customer.name"), value: r.summary.name.clone() },
            Fact { label: t(lang, "customer.id_number"), value: opt(&r.id_number) },
            Fact { label: t(lang, "customer.tier"), value: code("tier", r.summary.tier.code()) },
            Fact { label: t(lang, "customer.institution"), value: r.summary.owner_name.clone() },
            Fact { label: t(lang, "customer.mobile"), value: opt(&r.mobile) },
            Fact { label: t(lang, "customer.address"), value: opt(&r.address) },
            Fact { label: t(lang, "customer.aum"), value: money(r.aum) },
        ],
        holdings: v.holdings,
    }
}

async fn lookup(Req { st, lang, meta, auth }: Req, Form(f): Form<CreditLookupInput>) -> PageResult {
    let mut page = blank(&st, lang, &auth);
    page.purpose = f.purpose.clone();
    match st.app.credit_lookup(&auth.session.actor, &meta, &f.name, &f.id_number, &f.purpose).await {
        Ok(found) => {
            // The answer shows the customer masked; the full name typed is not echoed.
            page.result = Some(found.map(|v| hit(lang, v)));
            Ok(render(&page))
        }
        Err(e) => {
            page.errors = form_errors(lang, e)?.on_form(&["name", "id_number", "purpose"]);
            page.name = f.name.clone();
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&page)).into_response())
        }
    }
}
