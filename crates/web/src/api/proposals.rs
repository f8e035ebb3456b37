//! Customer-information change proposals (变更申请) and their decisions.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/proposals", get(proposals))
        .route("/proposals/{id}/decision", post(decide_proposal))
        .route("/proposals/{id}/withdrawal", post(withdraw_proposal))
}

async fn proposals(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<ProposalsQuery>) -> ApiResult {
    let list = st.app.proposals(&auth.session.actor, &meta, q.status()).await?;
    Ok(Json(json!({ "items": list })).into_response())
}

async fn decide_proposal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionInput>,
) -> ApiResult {
    st.app.decide_proposal(&auth.session.actor, &meta, id, b.approve, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The proposer takes a pending proposal back (a comment is optional).
async fn withdraw_proposal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionInput>,
) -> ApiResult {
    st.app.withdraw_proposal(&auth.session.actor, &meta, id, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
