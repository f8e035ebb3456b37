//! The role catalogue with its grants.

use super::*;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(roles))
}

/// The role catalogue and permission matrix (system administrator, security auditor).
#[utoipa::path(get, path = "/roles", tag = "roles",
    responses((status = 200, body = Items<pcis_service::roles::RoleGrants>)))]
async fn roles(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let roles = st.app.role_matrix(&auth.session.actor, &meta).await?;
    Ok(items(roles))
}
