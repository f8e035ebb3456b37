//! The audit log search and the monitoring flags, for the security auditor.

use super::*;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit)).routes(routes!(monitoring_flags))
}

/// Search the audit log (security auditor); dates are whole days in China Standard Time.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery, ListParams),
    responses((status = 200, body = pcis_service::Page<pcis_domain::audit::AuditRecord>),
        (status = 422, body = ErrorBody, description = "A date not written YYYY-MM-DD")))]
async fn audit(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult {
    let filter = q.filter()?;
    let page =
        st.app.search_audit(&auth.session.actor, &meta, &filter, &q.list.listing(AuditSort::USUAL)).await?;
    Ok(Json(page).into_response())
}

/// Open monitoring flags for the security auditor.
#[utoipa::path(get, path = "/monitoring-flags", tag = "audit",
    responses((status = 200, body = Items<pcis_service::audit::Flag>)))]
async fn monitoring_flags(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let flags = st.app.monitoring_flags(&auth.session.actor, &meta).await?;
    Ok(items(flags))
}
