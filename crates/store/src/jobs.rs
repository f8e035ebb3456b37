//! Runs of background jobs (R-OPS-4), claimed through a unique key so that each occurrence
//! runs on one node only.

use serde::Serialize;
use time::OffsetDateTime;

use crate::{DbResult, Tx, micros, on_tx};

/// Claims the occurrence `run_key` of `job` for `node` until `lease_until`: a new claim, a
/// failed run retried, or a running one whose node let its lease expire. `None` when the
/// occurrence is done or another node holds it.
pub async fn claim(
    tx: &mut Tx,
    job: &str,
    run_key: &str,
    node: &str,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
) -> DbResult<Option<i64>> {
    let (now, lease) = (micros(now), micros(lease_until));
    let inserted: Option<i64> = on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO job_run (job, run_key, node, status, started_us, lease_until_us)
             VALUES ($1, $2, $3, 'running', $4, $5) ON CONFLICT (job, run_key) DO NOTHING RETURNING id",
        )
        .bind(job)
        .bind(run_key)
        .bind(node)
        .bind(now)
        .bind(lease)
        .fetch_optional(c)
        .await
    })?;
    if inserted.is_some() {
        return Ok(inserted);
    }
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "UPDATE job_run SET node = $3, status = 'running', started_us = $4, lease_until_us = $5,
                    finished_us = NULL, message = ''
             WHERE job = $1 AND run_key = $2
               AND (status = 'failed' OR (status = 'running' AND lease_until_us < $4))
             RETURNING id",
        )
        .bind(job)
        .bind(run_key)
        .bind(node)
        .bind(now)
        .bind(lease)
        .fetch_optional(c)
        .await
    })
}

/// Records how run `id` ended; returns the job's name.
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    status: &str,
    detail: &str,
    message: &str,
    now: OffsetDateTime,
) -> DbResult<String> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "UPDATE job_run SET status = $2, detail = $3, message = $4, finished_us = $5 WHERE id = $1
             RETURNING job",
        )
        .bind(id)
        .bind(status)
        .bind(detail)
        .bind(message)
        .bind(micros(now))
        .fetch_one(c)
        .await
    })
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobRun {
    pub id: i64,
    pub job: String,
    pub run_key: String,
    pub node: String,
    pub status: String,
    pub started_us: i64,
    pub finished_us: Option<i64>,
    pub detail: String,
    pub message: String,
}

/// The latest runs, newest first.
pub async fn runs(tx: &mut Tx, limit: i64) -> DbResult<Vec<JobRun>> {
    on_tx!(tx, c => {
        sqlx::query_as(
            "SELECT id, job, run_key, node, status, started_us, finished_us, detail, message
             FROM job_run ORDER BY started_us DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(c)
        .await
    })
}
