//! The role catalogue with its grants.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/roles", get(roles))
}

/// The role catalogue with each role's grants.
async fn roles(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let roles = st.app.role_matrix(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": roles })).into_response())
}
