//! The workbench (工作台): the role's duties, its to-dos and what it may open.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/", get(home))
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    ctx: Ctx,
    welcome: String,
    /// (label, link, count)
    todos: Vec<(String, String, i64)>,
    /// (role name, what the role does)
    duties: Vec<(String, String)>,
    /// Open monitoring flags for the auditor: (what, link to the audit log, raised at).
    flags: Vec<(String, String, String)>,
}

async fn home(Req { st, lang, meta, auth }: Req) -> PageResult {
    let actor = &auth.session.actor;
    let mut todos = Vec::new();
    if st.app.policy.can(actor, Action::UserUnlock) {
        let locked = st.app.count_locked_users(actor, &meta).await?;
        if locked > 0 {
            todos.push((t(lang, "home.locked_users"), "/users?locked=1".to_owned(), locked));
        }
    }
    if st.app.policy.can(actor, Action::CustomerApprove) {
        let (pending, overdue) = st.app.count_pending_proposals(actor).await?;
        if pending > 0 {
            todos.push((t(lang, "home.pending_proposals"), "/proposals?status=pending".to_owned(), pending));
        }
        if overdue > 0 {
            todos.push((t(lang, "home.overdue_proposals"), "/proposals?status=pending".to_owned(), overdue));
        }
    }
    let (open, escalated) = st.app.suspect_todo(actor).await?;
    if open > 0 {
        todos.push((t(lang, "home.suspects_open"), "/suspects?tab=pending".to_owned(), open));
    }
    if escalated > 0 {
        todos.push((t(lang, "home.suspects_escalated"), "/suspects?tab=escalated".to_owned(), escalated));
    }
    let mut flags = Vec::new();
    if st.app.policy.can(actor, Action::AuditSearch) {
        for f in st.app.monitoring_flags(actor, &meta).await? {
            let label = crate::translate(lang, &format!("flag.{}", f.kind), &[("name", &f.display_name)]);
            let href = format!("/audit?username={}&outcome=failed", f.username);
            flags.push((label, href, crate::views::minute(f.raised_us)));
        }
        if !flags.is_empty() {
            todos.push((t(lang, "home.monitoring_flags"), "#flags".to_owned(), flags.len() as i64));
        }
        // The last day's failed logins and lockouts, each a link to the records.
        let alerts = st.app.login_alerts(actor, &meta).await?;
        let day = (st.app.clock.now() - time::Duration::hours(24)).to_offset(pcis_domain::CST).date();
        if alerts.failed_logins > 0 {
            let href = format!("/audit?action=session.login&outcome=failed&from={day}");
            todos.push((t(lang, "home.failed_logins"), href, alerts.failed_logins));
        }
        if alerts.lockouts > 0 {
            todos.push((
                t(lang, "home.lockouts"),
                format!("/audit?action=session.lock&from={day}"),
                alerts.lockouts,
            ));
        }
    }
    let welcome = crate::translate(lang, "home.welcome", &[("name", &actor.display_name)]);
    let duties = actor
        .roles
        .iter()
        .map(|r| (t(lang, &format!("role.{}", r.code())), t(lang, &format!("role_desc.{}", r.code()))))
        .collect();
    Ok(render(&HomePage { ctx: ctx(&st, lang, &auth, "/"), welcome, todos, duties, flags }))
}
