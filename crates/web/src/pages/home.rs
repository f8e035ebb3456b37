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
    todos: Vec<Todo>,
    /// The actor's roles: their codes, named and described by the template.
    roles: Vec<Role>,
    /// Open monitoring flags for the auditor.
    flags: Vec<Flag>,
}

/// Work waiting for the viewer, with the list that shows it.
struct Todo {
    label: String,
    href: String,
    count: i64,
}

impl Todo {
    fn new(lang: Lang, key: &str, href: impl Into<String>, count: i64) -> Todo {
        Todo { label: t(lang, key), href: href.into(), count }
    }
}

struct Flag {
    label: String,
    /// The audit records behind it.
    href: String,
    raised_us: i64,
}

async fn home(Req { st, lang, meta, auth }: Req) -> PageResult {
    let actor = &auth.session.actor;
    let mut todos = Vec::new();
    if st.app.policy.can(actor, Action::UserUnlock) {
        let locked = st.app.count_locked_users(actor, &meta).await?;
        if locked > 0 {
            todos.push(Todo::new(lang, "home.locked_users", "/users?locked=1", locked));
        }
    }
    if st.app.policy.can(actor, Action::CustomerApprove) {
        let (pending, overdue) = st.app.count_pending_proposals(actor).await?;
        if pending > 0 {
            todos.push(Todo::new(lang, "home.pending_proposals", "/proposals?status=pending", pending));
        }
        if overdue > 0 {
            todos.push(Todo::new(lang, "home.overdue_proposals", "/proposals?status=pending", overdue));
        }
    }
    let (open, escalated) = st.app.suspect_todo(actor).await?;
    if open > 0 {
        todos.push(Todo::new(lang, "home.suspects_open", "/suspects?tab=pending", open));
    }
    if escalated > 0 {
        todos.push(Todo::new(lang, "home.suspects_escalated", "/suspects?tab=escalated", escalated));
    }
    let mut flags = Vec::new();
    if st.app.policy.can(actor, Action::AuditSearch) {
        for f in st.app.monitoring_flags(actor, &meta).await? {
            let label = crate::translate(lang, &format!("flag.{}", f.kind), &[("name", &f.display_name)]);
            let href = format!("/audit?username={}&outcome=failed", f.username);
            flags.push(Flag { label, href, raised_us: f.raised_us });
        }
        if !flags.is_empty() {
            todos.push(Todo::new(lang, "home.monitoring_flags", "#flags", flags.len() as i64));
        }
        // The last day's failed logins and lockouts, each a link to the records.
        let alerts = st.app.login_alerts(actor, &meta).await?;
        let day = (st.app.clock.now() - time::Duration::hours(24)).to_offset(pcis_domain::CST).date();
        if alerts.failed_logins > 0 {
            let href = format!("/audit?action=session.login&outcome=failed&from={day}");
            todos.push(Todo::new(lang, "home.failed_logins", href, alerts.failed_logins));
        }
        if alerts.lockouts > 0 {
            let href = format!("/audit?action=session.lock&from={day}");
            todos.push(Todo::new(lang, "home.lockouts", href, alerts.lockouts));
        }
    }
    let welcome = crate::translate(lang, "home.welcome", &[("name", &actor.display_name)]);
    let roles = actor.roles.clone();
    Ok(render(&HomePage { ctx: ctx(&st, lang, &auth, "/"), welcome, todos, roles, flags }))
}
