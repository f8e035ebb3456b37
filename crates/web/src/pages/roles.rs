//! The role catalogue and its permission matrix (角色权限), read-only.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/roles", get(roles))
}

struct RoleRow {
    code: &'static str,
    name: String,
    administered_by: String,
    /// Per action, in `Action::ALL` order: the scope's short and full label, or none where
    /// not granted.
    cells: Vec<Option<(String, String)>>,
}

#[derive(Template)]
#[template(path = "roles.html")]
struct RolesPage {
    ctx: Ctx,
    actions: Vec<String>,
    rows: Vec<RoleRow>,
}

async fn roles(Req { st, lang, meta, auth }: Req) -> PageResult {
    let matrix = st.app.role_matrix(&auth.session.actor, &meta).await?;
    let rows = matrix
        .iter()
        .map(|r| RoleRow {
            code: r.role.code(),
            name: t(lang, &format!("role.{}", r.role.code())),
            administered_by: t(lang, &format!("role.{}", r.administered_by.code())),
            cells: Action::ALL
                .iter()
                .map(|a| {
                    r.grants.iter().find(|g| g.action == *a).map(|g| {
                        let scope = g.scope.code();
                        (t(lang, &format!("roles.short.{scope}")), t(lang, &format!("roles.{scope}")))
                    })
                })
                .collect(),
        })
        .collect();
    Ok(render(&RolesPage {
        ctx: ctx(&st, lang, &auth, "/roles").crumb("roles.title", ""),
        actions: Action::ALL.iter().map(|a| t(lang, &format!("action.{}", a.code()))).collect(),
        rows,
    }))
}
