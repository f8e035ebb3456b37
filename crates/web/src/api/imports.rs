//! Import and job runs, for the administrators.

use super::*;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_runs)).routes(routes!(job_runs))
}

/// The latest import runs of core-banking extracts with their counts per file (system and
/// business administrators).
#[utoipa::path(get, path = "/import-runs", tag = "import",
    responses((status = 200, body = Items<pcis_service::import::ImportRun>)))]
async fn import_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.import_runs(&auth.session.actor, &meta).await?;
    Ok(items(runs))
}

/// The latest runs of the nightly job (load → tiering → suspicious list), with the node that
/// ran each, what it did and why it failed.
#[utoipa::path(get, path = "/job-runs", tag = "import",
    responses((status = 200, body = Items<pcis_service::jobs::JobRun>)))]
async fn job_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.job_runs(&auth.session.actor, &meta).await?;
    Ok(items(runs))
}
