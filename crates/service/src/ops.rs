//! Operations (运维): whether this node is ready to serve, and the counters `/metrics` shows
//! in the Prometheus text format. Invariants: every label value comes from a fixed
//! vocabulary the code chooses (job names, extract file names, outcomes, pool names), never
//! from a request, a user or a customer; a readiness failure is told in two words, the
//! database's own message goes to the log only. Each `App` keeps its own registry: there is
//! no process-wide recorder.

use std::time::Duration;

use pcis_domain::audit::Outcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::App;

/// How long readiness waits for the database before it calls it too slow.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    job: String,
    /// `done`, `failed`, or `skipped` (done before, or held by another node).
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImportLabels {
    file: &'static str,
    /// `loaded` (inserted, updated or unchanged) or `rejected`.
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

/// The services' counters since the process started.
pub struct Metrics {
    registry: Registry,
    job_runs: Family<JobLabels, Counter>,
    import_rows: Family<ImportLabels, Counter>,
    audit_records: Family<OutcomeLabels, Counter>,
    pool_size: Family<PoolLabels, Gauge>,
    pool_idle: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            job_runs: Family::default(),
            import_rows: Family::default(),
            audit_records: Family::default(),
            pool_size: Family::default(),
            pool_idle: Family::default(),
        };
        let registry = &mut m.registry;
        registry.register("pcis_job_runs", "Background job runs by job and outcome", m.job_runs.clone());
        registry.register(
            "pcis_import_rows",
            "Extract rows loaded or rejected, by file",
            m.import_rows.clone(),
        );
        registry.register(
            "pcis_audit_records_appended",
            "Audit records appended, by outcome (counted as appended in their transaction)",
            m.audit_records.clone(),
        );
        registry.register(
            "pcis_db_pool_connections",
            "Open database connections by pool, sampled when scraped",
            m.pool_size.clone(),
        );
        registry.register(
            "pcis_db_pool_idle_connections",
            "Idle database connections by pool, sampled when scraped",
            m.pool_idle.clone(),
        );
        m
    }
}

impl Metrics {
    pub(crate) fn job_run(&self, job: &str, outcome: &'static str) {
        self.job_runs.get_or_create(&JobLabels { job: job.to_owned(), outcome }).inc();
    }

    pub(crate) fn import_rows(&self, file: &'static str, loaded: u64, rejected: u64) {
        for (result, n) in [("loaded", loaded), ("rejected", rejected)] {
            if n > 0 {
                self.import_rows.get_or_create(&ImportLabels { file, result }).inc_by(n);
            }
        }
    }

    pub(crate) fn audit_appended(&self, outcome: Outcome) {
        self.audit_records.get_or_create(&OutcomeLabels { outcome: outcome.code() }).inc();
    }
}

impl App {
    /// Whether this node can serve: the database answers a trivial query in time. The
    /// reason is for a load balancer's log; the cause goes to ours.
    pub async fn ready(&self) -> Result<(), &'static str> {
        match tokio::time::timeout(READY_TIMEOUT, self.db.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: the database failed");
                Err("database unavailable")
            }
            Err(_) => {
                tracing::warn!("not ready: the database did not answer within {READY_TIMEOUT:?}");
                Err("database timeout")
            }
        }
    }

    /// Appends the services' metrics in the Prometheus text format (version 0.0.4), the
    /// database pools sampled now.
    pub fn render_metrics(&self, out: &mut String) -> std::fmt::Result {
        for p in self.db.pool_stats() {
            let labels = PoolLabels { pool: p.pool };
            self.metrics.pool_size.get_or_create(&labels).set(i64::from(p.size));
            self.metrics.pool_idle.get_or_create(&labels).set(i64::try_from(p.idle).unwrap_or(i64::MAX));
        }
        prometheus_client::encoding::prometheus_text::encode(out, &self.metrics.registry)
    }
}
