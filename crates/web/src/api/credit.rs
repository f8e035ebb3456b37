//! The credit reviewer's exact lookup.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/credit-lookups", post(credit_lookup))
}

async fn credit_lookup(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<CreditLookupInput>) -> ApiResult {
    let found = st.app.credit_lookup(&auth.session.actor, &meta, &b.name, &b.id_number, &b.purpose).await?;
    Ok(Json(json!({ "found": found.is_some(), "customer": found })).into_response())
}
