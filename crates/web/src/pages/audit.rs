//! The security auditor's audit-log search (审计日志).

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

struct AuditRow {
    seq: i64,
    at: String,
    username: String,
    action: String,
    action_label: String,
    target: String,
    outcome: String,
    outcome_class: &'static str,
    reason: String,
    ip: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ctx: Ctx,
    rows: Vec<AuditRow>,
    outcomes: Vec<(&'static str, String)>,
    /// Known audited actions for the filter's suggestions: (code, label).
    actions: Vec<(String, String)>,
    f_username: String,
    f_action: String,
    f_outcome: String,
    f_customer: String,
    f_from: String,
    f_to: String,
    problem: String,
    pager: Pager,
}

/// The name of an audited action in the user's language; the code itself if it has none.
fn action_label(lang: Lang, action: &str) -> String {
    let key = format!("audit_action.{action}");
    let text = t(lang, &key);
    if text == key { action.to_owned() } else { text }
}

/// Reasons are i18n keys (`err.*`, `deny.*`), system codes (`audit_reason.*`) or free text
/// typed by staff, which is shown as written.
fn reason_text(lang: Lang, reason: &str) -> String {
    let key = if reason.starts_with("err.") || reason.starts_with("deny.") {
        reason.to_owned()
    } else {
        format!("audit_reason.{reason}")
    };
    let text = t(lang, &key);
    if text == key { reason.to_owned() } else { text }
}

fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Denied => "danger",
        Outcome::Failed => "warning",
    }
}

async fn audit(Req { st, lang, meta, auth }: Req, PageQuery(q): PageQuery<AuditQuery>) -> PageResult {
    let page = q.page();
    let (result, problem) = match q.filter() {
        Ok(filter) => {
            (Some(st.app.search_audit(&auth.session.actor, &meta, &filter, page).await?), String::new())
        }
        Err(DomainError::Invalid(f)) => (None, format!("{}: {}", f[0].field, t(lang, f[0].rule))),
        Err(e) => return Err(PageError::from(e)),
    };
    // An invalid filter never reached the service; the page itself still needs the permission.
    if result.is_none() {
        st.app.require(&auth.session.actor, &meta, AuditAction::AuditSearch).await?;
    }
    let cst = pcis_domain::CST;
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let (rows, total, page, per_page) = match result {
        Some(r) => (
            r.items
                .iter()
                .map(|a| AuditRow {
                    seq: a.seq,
                    at: a.at.to_offset(cst).format(fmt).unwrap_or_default(),
                    username: a.entry.who.username.clone(),
                    action: a.entry.action.clone(),
                    action_label: action_label(lang, &a.entry.action),
                    target: if a.entry.target_id.is_empty() {
                        a.entry.target_type.clone()
                    } else {
                        format!("{}:{}", a.entry.target_type, a.entry.target_id)
                    },
                    outcome: t(lang, &format!("outcome.{}", a.entry.outcome.code())),
                    outcome_class: outcome_class(a.entry.outcome),
                    reason: reason_text(lang, &a.entry.reason),
                    ip: a.entry.who.ip.clone(),
                    detail: a.entry.detail.clone(),
                })
                .collect(),
            r.total,
            r.page,
            r.per_page,
        ),
        None => (Vec::new(), 0, 1, 50),
    };
    let href = |p: i64| {
        let mut q2 = q.clone();
        q2.page = Some(p);
        format!("/audit?{}", serde_urlencoded::to_string(&q2).unwrap_or_default())
    };
    Ok(render(&AuditPage {
        ctx: ctx(&st, lang, &auth, "/audit").crumb("audit.title", ""),
        rows,
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.code(), t(lang, &format!("outcome.{}", o.code()))))
            .collect(),
        actions: AuditAction::all().map(|a| (a.code().to_owned(), action_label(lang, a.code()))).collect(),
        f_username: q.username.clone(),
        f_action: q.action.clone(),
        f_outcome: q.outcome.clone(),
        f_customer: q.customer.clone(),
        f_from: q.from.clone(),
        f_to: q.to.clone(),
        problem,
        pager: Pager::new(total, page, per_page, href),
    }))
}
