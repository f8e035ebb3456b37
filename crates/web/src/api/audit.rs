//! The audit log search and the monitoring flags, for the security auditor.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/audit", get(audit)).route("/monitoring-flags", get(monitoring_flags))
}

async fn audit(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult {
    let filter = q.filter()?;
    let page =
        st.app.search_audit(&auth.session.actor, &meta, &filter, &q.list.listing(AuditSort::USUAL)).await?;
    Ok(Json(page).into_response())
}

async fn monitoring_flags(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let flags = st.app.monitoring_flags(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": flags })).into_response())
}
