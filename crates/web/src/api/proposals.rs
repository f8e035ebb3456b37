//! Customer-information change proposals (变更申请) and their decisions.

use super::*;
use pcis_service::Proposal;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(proposals))
        .routes(routes!(decide_proposal))
        .routes(routes!(withdraw_proposal))
        .routes(routes!(review_proposal))
}

/// A pending proposal's changed fields in full (before → after), for a reviewer who may
/// decide it; recorded as a reveal with the purpose "review". Never the proposer's own.
#[utoipa::path(post, path = "/proposals/{id}/review", tag = "proposals", params(Id),
    responses((status = 200, body = Items<pcis_service::FullChange>),
        (status = 404, body = ErrorBody, description = "No such proposal"),
        (status = 409, body = ErrorBody, description = "Already decided or withdrawn")))]
async fn review_proposal(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let changes = st.app.review_proposal(&auth.session.actor, &meta, id).await?;
    Ok(items(changes))
}

/// Own proposals and, for a supervisor, those of its outlet.
#[utoipa::path(get, path = "/proposals", tag = "proposals", params(ProposalsQuery),
    responses((status = 200, body = Items<Proposal>)))]
async fn proposals(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<ProposalsQuery>) -> ApiResult {
    let list = st.app.proposals(&auth.session.actor, &meta, q.status()).await?;
    Ok(items(list))
}

/// Approve (applies the change) or reject a proposal, with a comment; never one's own.
#[utoipa::path(post, path = "/proposals/{id}/decision", tag = "proposals", params(Id), request_body = DecisionInput,
    responses((status = 204, description = "Decided"),
        (status = 404, body = ErrorBody, description = "No such proposal"),
        (status = 409, body = ErrorBody, description = "Already decided or withdrawn, or the customer changed since")))]
async fn decide_proposal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<DecisionInput>,
) -> ApiResult {
    st.app.decide_proposal(&auth.session.actor, &meta, id, b.approve, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Withdraw a pending proposal, by its proposer only (a comment is optional); the customer
/// stays as it was.
#[utoipa::path(post, path = "/proposals/{id}/withdrawal", tag = "proposals", params(Id), request_body = DecisionInput,
    responses((status = 204, description = "Withdrawn"),
        (status = 404, body = ErrorBody, description = "No such proposal"),
        (status = 409, body = ErrorBody, description = "Already decided or withdrawn")))]
async fn withdraw_proposal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<DecisionInput>,
) -> ApiResult {
    st.app.withdraw_proposal(&auth.session.actor, &meta, id, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
