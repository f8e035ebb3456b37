//! Business parameters: tier thresholds and the VIP standard.

use super::*;
use pcis_domain::customer::TierThresholds;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(parameters, set_parameters))
}

/// The thresholds in fen, and as the yuan text the form takes.
#[derive(Serialize, ToSchema)]
struct ParametersBody {
    fen: TierThresholds,
    yuan: ThresholdsInput,
}

impl From<TierThresholds> for ParametersBody {
    fn from(fen: TierThresholds) -> Self {
        Self { yuan: ThresholdsInput::from_thresholds(&fen), fen }
    }
}

/// The tier thresholds and the VIP standard (business administrator), in fen and as yuan text.
#[utoipa::path(get, path = "/parameters", tag = "parameters", responses((status = 200, body = ParametersBody)))]
async fn parameters(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let t = st.app.business_parameters(&auth.session.actor, &meta).await?;
    Ok(Json(ParametersBody::from(t)).into_response())
}

/// Replace the tier thresholds and the VIP standard (yuan, two decimals, tiers strictly
/// rising); customers move at the next recomputation.
#[utoipa::path(put, path = "/parameters", tag = "parameters", request_body = ThresholdsInput,
    responses((status = 200, body = ParametersBody)))]
async fn set_parameters(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<ThresholdsInput>) -> ApiResult {
    let t = st.app.set_tier_thresholds(&auth.session.actor, &meta, &b).await?;
    Ok(Json(ParametersBody::from(t)).into_response())
}
