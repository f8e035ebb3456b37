//! Data-key rotation (R-PRV-3): every value sealed under an older key version is opened and
//! sealed again under the active one, in short transactions, while the application keeps
//! serving (it reads every version it has a key for). A value changed by the application
//! between the read and the write is left alone and picked up by the next run; rerunning is
//! always safe, and the run is audited.

use pcis_store::sealed::{self, SEALED_COLUMNS};
use serde_json::json;

use crate::{App, DbExt};
use pcis_domain::DomainResult;
use pcis_domain::audit_action::AuditAction;

/// Values re-sealed per transaction.
const BATCH: i64 = 500;

/// What a rotation did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResealReport {
    /// Values found under another key version at the start.
    pub stale: u64,
    pub resealed: u64,
    /// Values changed by the application meanwhile (they are sealed anew by that change).
    pub skipped: u64,
}

impl App {
    /// Re-seals every value not under the active data key; `progress(done, total)` after
    /// each batch.
    pub async fn reseal_all(&self, mut progress: impl FnMut(u64, u64)) -> DomainResult<ResealReport> {
        let active = self.keys.data.active_version();
        let prefix = active.to_be_bytes();
        let mut report = ResealReport::default();
        {
            let mut tx = self.db.begin_read().await.db()?;
            for c in SEALED_COLUMNS {
                report.stale += sealed::count_stale(&mut tx, c, &prefix).await.db()?.unsigned_abs();
            }
        }
        progress(0, report.stale);
        for c in SEALED_COLUMNS {
            let mut after = 0;
            loop {
                let mut tx = self.db.begin().await.db()?;
                let rows = sealed::stale(&mut tx, c, &prefix, after, BATCH).await.db()?;
                let Some(last) = rows.last() else { break };
                after = last.0;
                for (id, old) in &rows {
                    let plain = self.keys.data.open(c.field, old).map_err(|e| {
                        tracing::error!(error = %e, table = c.table, column = c.column, id, "cannot open a sealed value");
                        pcis_domain::DomainError::Internal("sealed value".into())
                    })?;
                    let new = self.keys.data.seal(c.field, &plain);
                    if sealed::replace(&mut tx, c, *id, old, &new).await.db()? {
                        report.resealed += 1;
                    } else {
                        report.skipped += 1;
                    }
                }
                tx.commit().await.db()?;
                progress(
                    report.resealed + report.skipped,
                    report.stale.max(report.resealed + report.skipped),
                );
            }
        }
        let detail = json!({ "active_version": active, "stale": report.stale, "resealed": report.resealed,
            "skipped": report.skipped });
        self.record_operation(AuditAction::KeysRotate, active, detail).await?;
        Ok(report)
    }
}
