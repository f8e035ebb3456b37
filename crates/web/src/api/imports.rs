//! Import and job runs, for the administrators.

use super::*;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/import-runs", get(import_runs)).route("/job-runs", get(job_runs))
}

async fn import_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.import_runs(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": runs })).into_response())
}

async fn job_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.job_runs(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": runs })).into_response())
}
