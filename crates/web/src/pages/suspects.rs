//! Suspicious customer information (可疑客户信息, R-ETL-4): the list routed to the viewer, the
//! investigation of one item with its outcome and note, and the report of staff whose
//! customers show such items repeatedly. Values and names are masked; only customers in the
//! viewer's reach link to their 360 page.

use pcis_domain::suspect::{SUSPECT_FLOW, SuspectStatus};
use pcis_domain::workflow::Taker;
use pcis_service::suspects::{Item, REPORT_DAYS, StaffLine, SuspectTab};

use super::*;
use crate::inputs::{ResolutionInput, SuspectReportQuery, SuspectsQuery};
use crate::views::minute;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/suspects", get(list))
        .route("/suspects/report", get(report))
        .route("/suspects/{id}", get(show).post(resolve))
}

/// One item as the pages show it.
struct ItemView {
    item: Item,
    kind: String,
    status: String,
    status_class: &'static str,
    /// Still open (or escalated) after its due date.
    late: bool,
    closed: String,
    escalated: String,
    /// Who is to act on it now (empty once closed).
    handler: String,
}

fn item_view(lang: Lang, today: &str, item: Item) -> ItemView {
    let pending = item.status.is_pending();
    ItemView {
        kind: label(lang, "suspect.kind", &item.kind),
        status: label(lang, "suspect.status", item.status.code()),
        status_class: match item.status {
            SuspectStatus::Open => "warning",
            SuspectStatus::Escalated => "danger",
            SuspectStatus::Genuine | SuspectStatus::Corrected => "success",
        },
        late: pending && item.due_on.as_str() < today,
        closed: match (&item.closed_by_name, item.closed_us) {
            (Some(by), Some(at)) => format!("{by} · {}", minute(at)),
            _ => String::new(),
        },
        escalated: item.escalated_us.map(minute).unwrap_or_default(),
        handler: if pending {
            t(lang, &format!("suspect.handler_when.{}", item.status.code()))
        } else {
            String::new()
        },
        item,
    }
}

#[derive(Template)]
#[template(path = "suspects.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<ItemView>,
    tabs: Vec<Choice>,
    can_report: bool,
    pager: Pager,
}

async fn list(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<SuspectsQuery>) -> PageResult {
    let actor = &auth.session.actor;
    let tab = q.tab.unwrap_or_default();
    let listing = q.list.listing(SuspectSort::USUAL);
    let items = st.app.suspects(actor, &meta, tab, &listing).await?;
    let pager = ListLinks::new("/suspects", &q, &listing, &SuspectSort::USUAL).pager(items.total, &listing);
    let today = st.app.today();
    Ok(render(&ListPage {
        ctx: ctx(&st, lang, &auth, "/suspects").crumb("suspect.title", "").watermarked(st.app.clock.now()),
        rows: items.items.into_iter().map(|i| item_view(lang, &today, i)).collect(),
        tabs: SuspectTab::ALL
            .iter()
            .map(|s| Choice {
                code: s.code(),
                label: t(lang, &format!("suspect.tab.{}", s.code())),
                on: *s == tab,
            })
            .collect(),
        can_report: st.app.policy.can(actor, Action::SuspectReport),
        pager,
    }))
}

#[derive(Template)]
#[template(path = "suspect.html")]
struct ItemPage {
    ctx: Ctx,
    v: ItemView,
    /// The outcomes the viewer may record now, from the item's workflow: (step, label).
    outcomes: Vec<(&'static str, String)>,
    bar: StepBar,
    outcome: String,
    note: String,
    errors: FieldErrors,
    notice: String,
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    notice: String,
}

async fn item_page(
    st: &AppState,
    lang: Lang,
    auth: &Auth,
    meta: &pcis_service::RequestMeta,
    id: i64,
) -> Result<ItemPage, DomainError> {
    let actor = &auth.session.actor;
    let item = st.app.suspect(actor, meta, id).await?;
    // Only to offer the form; the service decides again.
    let may_resolve = st.app.policy.can(actor, Action::SuspectResolve);
    let outcomes = SUSPECT_FLOW
        .steps_from(item.status)
        .filter(|s| may_resolve && s.taker != Taker::System)
        .map(|s| (s.code, label(lang, "suspect.status", s.to.code())))
        .collect();
    let bar = StepBar::new(lang, &SUSPECT_FLOW, item.status, String::new(), |_| false);
    let v = item_view(lang, &st.app.today(), item);
    Ok(ItemPage {
        ctx: ctx(st, lang, auth, "/suspects")
            .crumb("suspect.title", "/suspects")
            .crumb("suspect.item", "")
            .watermarked(st.app.clock.now()),
        outcomes,
        bar,
        v,
        outcome: String::new(),
        note: String::new(),
        errors: FieldErrors::default(),
        notice: String::new(),
    })
}

async fn show(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    PageQuery(q): PageQuery<ShowQuery>,
) -> PageResult {
    let mut p = item_page(&st, lang, &auth, &meta, id).await?;
    if q.notice == "resolved" {
        p.notice = t(lang, "suspect.resolved");
    }
    Ok(render(&p))
}

async fn resolve(
    Req { st, lang, meta, auth }: Req,
    PagePath(id): PagePath<i64>,
    Form(f): Form<ResolutionInput>,
) -> PageResult {
    let errors = match st.app.resolve_suspect(&auth.session.actor, &meta, id, &f.outcome, &f.note).await {
        Ok(_) => return Ok(Redirect::to(&format!("/suspects/{id}?notice=resolved")).into_response()),
        Err(e) => form_errors(lang, e)?,
    };
    let mut p = item_page(&st, lang, &auth, &meta, id).await?;
    p.outcome = f.outcome;
    p.note = f.note;
    p.errors = errors.on_form(&["outcome", "note"]);
    Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, render(&p)).into_response())
}

#[derive(Template)]
#[template(path = "suspect_report.html")]
struct ReportPage {
    ctx: Ctx,
    lines: Vec<StaffLine>,
    days: i64,
    choices: [i64; 3],
}

async fn report(
    Req { st, lang, meta, auth }: Req,
    PageQuery(q): PageQuery<SuspectReportQuery>,
) -> PageResult {
    let days = q.days.unwrap_or(REPORT_DAYS);
    let lines = st.app.suspect_report(&auth.session.actor, &meta, days).await?;
    Ok(render(&ReportPage {
        ctx: ctx(&st, lang, &auth, "/suspects")
            .crumb("suspect.title", "/suspects")
            .crumb("suspect.report", "")
            .watermarked(st.app.clock.now()),
        lines,
        days: days.clamp(1, 366),
        choices: [30, 90, 365],
    }))
}
