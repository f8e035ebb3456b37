//! The suspicious customer information list (可疑客户信息).

use super::*;
use pcis_domain::suspect::SuspectStatus;
use pcis_service::suspects::{Item, StaffLine};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(suspects))
        .routes(routes!(suspect_report))
        .routes(routes!(suspect))
        .routes(routes!(resolve_suspect))
}

/// Suspicious customer information routed to the caller: items whose customers share a phone
/// number or bank account (masked), with due dates.
#[utoipa::path(get, path = "/suspects", tag = "suspects", params(SuspectsQuery, ListParams),
    responses((status = 200, body = pcis_service::Page<Item>)))]
async fn suspects(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<SuspectsQuery>) -> ApiResult {
    let listing = q.list.listing(SuspectSort::USUAL);
    let items = st.app.suspects(&auth.session.actor, &meta, q.tab.unwrap_or_default(), &listing).await?;
    Ok(Json(items).into_response())
}

/// One suspicious item with its customers (masked; only those in reach can be opened).
#[utoipa::path(get, path = "/suspects/{id}", tag = "suspects", params(Id),
    responses((status = 200, body = Item), (status = 404, body = ErrorBody, description = "No such item in reach")))]
async fn suspect(Req { st, meta, auth, .. }: Req, ApiPath(Id { id }): ApiPath<Id>) -> ApiResult {
    let item = st.app.suspect(&auth.session.actor, &meta, id).await?;
    Ok(Json(item).into_response())
}

#[derive(Serialize, ToSchema)]
struct Resolved {
    status: SuspectStatus,
}

/// Record the investigation's outcome (genuine, corrected or escalated to the department
/// head) with a note.
#[utoipa::path(post, path = "/suspects/{id}/resolution", tag = "suspects", params(Id), request_body = ResolutionInput,
    responses((status = 200, body = Resolved),
        (status = 404, body = ErrorBody, description = "No such item in reach"),
        (status = 409, body = ErrorBody, description = "Already closed")))]
async fn resolve_suspect(
    Req { st, meta, auth, .. }: Req,
    ApiPath(Id { id }): ApiPath<Id>,
    ApiJson(b): ApiJson<ResolutionInput>,
) -> ApiResult {
    let status = st.app.resolve_suspect(&auth.session.actor, &meta, id, &b.outcome, &b.note).await?;
    Ok(Json(Resolved { status }).into_response())
}

/// Staff whose customers showed two or more suspicious items in the period.
#[utoipa::path(get, path = "/suspects/report", tag = "suspects", params(SuspectReportQuery),
    responses((status = 200, body = Items<StaffLine>)))]
async fn suspect_report(
    Req { st, meta, auth, .. }: Req,
    ApiQuery(q): ApiQuery<SuspectReportQuery>,
) -> ApiResult {
    let days = q.days.unwrap_or(pcis_service::suspects::REPORT_DAYS);
    let lines = st.app.suspect_report(&auth.session.actor, &meta, days).await?;
    Ok(items(lines))
}
