//! The credit reviewer's exact lookup.

use super::*;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(credit_lookup))
}

#[derive(Serialize, ToSchema)]
struct CreditLookupBody {
    found: bool,
    /// The customer's record and holdings when found; null otherwise.
    customer: Option<pcis_service::customers::CreditView>,
}

/// Credit-review lookup: exact name plus full ID number, with a purpose; audited, repeated
/// misses flagged.
#[utoipa::path(post, path = "/credit-lookups", tag = "customers", request_body = CreditLookupInput,
    responses((status = 200, body = CreditLookupBody),
        (status = 404, body = ErrorBody, description = "The customer matched but its record is gone")))]
async fn credit_lookup(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<CreditLookupInput>) -> ApiResult {
    let found = st.app.credit_lookup(&auth.session.actor, &meta, &b.name, &b.id_number, &b.purpose).await?;
    Ok(Json(CreditLookupBody { found: found.is_some(), customer: found }).into_response())
}
