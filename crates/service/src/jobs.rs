//! Background jobs (R-OPS-4): each scheduled occurrence is claimed in the database before it
//! runs, so that of several app nodes exactly one runs it; the runs are recorded, audited as
//! the system, and visible to the administrators who see the import runs.

use pcis_domain::DomainResult;
use pcis_domain::audit_action::AuditAction;
use pcis_domain::policy::Actor;
use pcis_store::jobs as store;
pub use pcis_store::jobs::JobRun;
use serde_json::json;

use crate::audit::with_detail;
use crate::bootstrap::system;
use crate::{App, DbExt, RequestMeta, entry};

/// How long a claim holds without its node finishing; after that another node may take the
/// occurrence over (an import picks up from its checkpoints).
const LEASE: time::Duration = time::Duration::hours(12);

impl App {
    /// Claims occurrence `run_key` of `job` for `node`: `None` when it is done or another
    /// node holds it.
    pub async fn claim_job(&self, job: &str, run_key: &str, node: &str) -> DomainResult<Option<i64>> {
        let mut tx = self.db.begin().await.db()?;
        let now = self.clock.now();
        let claimed = store::claim(&mut tx, job, run_key, node, now, now + LEASE).await.db()?;
        tx.commit().await.db()?;
        if claimed.is_none() {
            self.metrics.job_run(job, "skipped");
        }
        Ok(claimed)
    }

    /// Records how a claimed run ended: what it did, or why it failed; audited.
    pub async fn finish_job(&self, id: i64, outcome: Result<serde_json::Value, String>) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        let (status, detail, message) = match &outcome {
            Ok(detail) => ("done", detail.to_string(), String::new()),
            Err(message) => ("failed", "{}".to_owned(), message.clone()),
        };
        let job = store::finish(&mut tx, id, status, &detail, &message, self.clock.now()).await.db()?;
        let audit =
            json!({ "status": status, "detail": outcome.as_ref().ok(), "error": outcome.as_ref().err() });
        self.record(&mut tx, with_detail(entry(system(), AuditAction::JobRun, id), audit)).await?;
        tx.commit().await.db()?;
        self.metrics.job_run(&job, status);
        Ok(())
    }

    /// The latest job runs, newest first, for the administrators; audited.
    pub async fn job_runs(&self, actor: &Actor, meta: &RequestMeta) -> DomainResult<Vec<JobRun>> {
        let mut uc = self.read_case(actor, meta, AuditAction::JobRuns, "").await?;
        let runs = store::runs(uc.tx(), 60).await.db()?;
        uc.finish().await?;
        Ok(runs)
    }
}
