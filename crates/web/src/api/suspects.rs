//! The suspicious customer information list (可疑客户信息).

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/suspects", get(suspects))
        .route("/suspects/report", get(suspect_report))
        .route("/suspects/{id}", get(suspect))
        .route("/suspects/{id}/resolution", post(resolve_suspect))
}

async fn suspects(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<SuspectsQuery>) -> ApiResult {
    let (tab, page) = (q.tab.unwrap_or_default(), q.page());
    let items = st.app.suspects(&auth.session.actor, &meta, tab, page).await?;
    Ok(Json(items).into_response())
}

async fn suspect(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let item = st.app.suspect(&auth.session.actor, &meta, id).await?;
    Ok(Json(item).into_response())
}

async fn resolve_suspect(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ResolutionInput>,
) -> ApiResult {
    let status = st.app.resolve_suspect(&auth.session.actor, &meta, id, &b.outcome, &b.note).await?;
    Ok(Json(json!({ "status": status })).into_response())
}

async fn suspect_report(
    Req { st, meta, auth, .. }: Req,
    ApiQuery(q): ApiQuery<SuspectReportQuery>,
) -> ApiResult {
    let days = q.days.unwrap_or(pcis_service::suspects::REPORT_DAYS);
    let lines = st.app.suspect_report(&auth.session.actor, &meta, days).await?;
    Ok(Json(json!({ "items": lines })).into_response())
}
