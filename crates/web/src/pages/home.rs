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
}

async fn home(State(st): State<AppState>, lang: Lang, Meta(meta): Meta, UiAuth(auth): UiAuth) -> PageResult {
    let actor = &auth.session.actor;
    let mut todos = Vec::new();
    if st.app.policy.can(actor, Action::UserUnlock) {
        let locked = st.app.count_locked_users(actor, &meta).await.map_err(err(lang))?;
        if locked > 0 {
            todos.push((t(lang, "home.locked_users"), "/users?locked=1".to_owned(), locked));
        }
    }
    let welcome = crate::translate(lang, "home.welcome", &[("name", &actor.display_name)]);
    let duties = actor
        .roles
        .iter()
        .map(|r| (t(lang, &format!("role.{}", r.code())), t(lang, &format!("role_desc.{}", r.code()))))
        .collect();
    Ok(render(&HomePage { ctx: ctx(&st, lang, &auth, "/"), welcome, todos, duties }))
}
