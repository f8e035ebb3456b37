//! The nightly job (夜间批处理, R-OPS-4): at the configured time (China time) each app node
//! wakes, one of them claims the day in the database, loads every extract folder of the
//! inbox not loaded before (oldest business date first), and each load recomputes the tiers
//! and builds the suspicious list; with no new folder both still run, so changed thresholds
//! apply and overdue items escalate every day. The run, its counts and its errors are
//! recorded.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pcis_domain::CST;
use pcis_service::App;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{OffsetDateTime, Time};

use crate::import_cli;

/// `[nightly]` in the configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NightlySettings {
    /// When to run, `HH:MM` China time.
    pub at: String,
    /// Where the core system drops one folder per business day.
    pub inbox: PathBuf,
}

impl NightlySettings {
    pub fn time(&self) -> anyhow::Result<Time> {
        Time::parse(&self.at, time::macros::format_description!("[hour]:[minute]"))
            .with_context(|| format!("nightly.at must be HH:MM, not {:?}", self.at))
    }
}

/// What one attempt came to.
pub enum Outcome {
    /// This node ran the day: what it did.
    Ran(serde_json::Value),
    /// Done before, or another node holds it.
    NotOurs,
}

/// This process, as the job runs name it.
fn node() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "node".into());
    format!("{host}:{}", std::process::id())
}

/// The folders of the inbox with a manifest that were not loaded to the end, by name (the
/// core system names them by business date).
async fn pending(app: &App, inbox: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(inbox)
        .with_context(|| format!("cannot read the inbox {}", inbox.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("manifest.csv").is_file())
        .collect();
    folders.sort();
    let mut out = Vec::new();
    for f in folders {
        if !app.extract_loaded(&f).await? {
            out.push(f);
        }
    }
    Ok(out)
}

/// Runs the nightly job for `day` (`YYYY-MM-DD`) unless it is done or held elsewhere.
pub async fn run_once(app: &App, inbox: &Path, day: &str) -> anyhow::Result<Outcome> {
    let Some(id) = app.claim_job("nightly", day, &node()).await? else { return Ok(Outcome::NotOurs) };
    tracing::info!(day, "nightly job started");
    let result: anyhow::Result<serde_json::Value> = async {
        let mut loads = Vec::new();
        for folder in pending(app, inbox).await? {
            let (report, rejected) =
                import_cli::load(app, &folder, &folder.join("rejects.csv"), indicatif::ProgressBar::hidden())
                    .await?;
            let r = report.map_err(|e| match e {
                pcis_domain::DomainError::Invalid(f) => anyhow::anyhow!("{}: {}", f[0].field, f[0].rule),
                other => other.into(),
            })?;
            loads.push(json!({
                "folder": folder.file_name().map(|n| n.to_string_lossy().into_owned()),
                "business_date": r.business_date, "import_run": r.run, "rejected": rejected,
                "tier_changed": r.tier_changed, "suspects": r.suspects,
            }));
        }
        // Requests waiting past their due date are escalated every night, loaded or not.
        let overdue_proposals = app.escalate_overdue_proposals().await?;
        if !loads.is_empty() {
            return Ok(json!({ "loads": loads, "overdue_proposals": overdue_proposals }));
        }
        // No new data: thresholds changed since still apply, and overdue items still escalate.
        let started = std::time::Instant::now();
        let (aum_changed, tier_changed) = app.recompute_tiers().await?;
        let tiering_ms = started.elapsed().as_millis() as u64;
        let started = std::time::Instant::now();
        let suspects = app.build_suspect_list().await?;
        Ok(json!({
            "loads": loads,
            "tiers_without_load": { "aum_changed": aum_changed, "tier_changed": tier_changed, "ms": tiering_ms },
            "suspects_without_load": suspects, "suspect_listing_ms": started.elapsed().as_millis() as u64,
            "overdue_proposals": overdue_proposals,
        }))
    }
    .await;
    let outcome = result.map_err(|e| format!("{e:#}"));
    if let Err(e) = &outcome {
        tracing::error!(day, error = %e, "nightly job failed");
    }
    app.finish_job(id, outcome.clone()).await?;
    match outcome {
        Ok(detail) => Ok(Outcome::Ran(detail)),
        Err(e) => anyhow::bail!("nightly job failed: {e}"),
    }
}

/// The next time `at` comes round after `now`, China time.
fn next_run(now: OffsetDateTime, at: Time) -> OffsetDateTime {
    let local = now.to_offset(CST);
    let today = local.replace_time(at);
    if today > local { today } else { today + time::Duration::days(1) }
}

/// Runs the job every day at `at` until the process ends; a failure is logged and recorded,
/// and the next day comes round as usual.
pub async fn schedule(app: App, settings: NightlySettings, at: Time) {
    loop {
        let next = next_run(app.clock.now(), at);
        let wait = next - app.clock.now();
        tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
        let day = next.date().to_string();
        match run_once(&app, &settings.inbox, &day).await {
            Ok(Outcome::Ran(_)) => tracing::info!(day, "nightly job done"),
            Ok(Outcome::NotOurs) => tracing::info!(day, "nightly job run by another node"),
            Err(e) => tracing::error!(day, error = %e, "nightly job failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{datetime, time};

    use super::*;

    #[test]
    fn the_next_run_is_today_or_tomorrow_in_china_time() {
        // 01:00 in Beijing is 17:00 UTC the day before.
        let at = time!(02:30);
        assert_eq!(next_run(datetime!(2026-11-23 17:00 UTC), at), datetime!(2026-11-24 02:30 +8));
        assert_eq!(next_run(datetime!(2026-11-23 18:30 UTC), at), datetime!(2026-11-25 02:30 +8));
        assert_eq!(next_run(datetime!(2026-11-24 03:00 UTC), at), datetime!(2026-11-25 02:30 +8));
    }
}
