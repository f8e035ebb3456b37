//! Business parameters: tier thresholds and the VIP standard.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/parameters", get(parameters).put(set_parameters))
}

async fn parameters(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let t = st.app.business_parameters(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "fen": t, "yuan": ThresholdsInput::from_thresholds(&t) })).into_response())
}

async fn set_parameters(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<ThresholdsInput>) -> ApiResult {
    let t = st.app.set_tier_thresholds(&auth.session.actor, &meta, &b).await?;
    Ok(Json(json!({ "fen": t, "yuan": ThresholdsInput::from_thresholds(&t) })).into_response())
}
