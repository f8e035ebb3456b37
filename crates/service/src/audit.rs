//! Audit search for the security auditor (R-AUD-3) and whole-chain verification (R-AUD-2).

use pcis_domain::DomainResult;
use pcis_domain::audit::{AuditEntry, AuditRecord, ChainBreak, GENESIS, Outcome, key_check, verify_chain};
use pcis_domain::audit_action::AuditAction;
use pcis_domain::customer::SensitiveField;
use pcis_domain::policy::Actor;
use pcis_domain::role::Action;
use pcis_store::Page;
use pcis_store::audit::{self as store, AuditFilter, AuditSort};
use pcis_store::listing::Listing;
pub use pcis_store::monitoring::Flag;

use crate::{App, DbExt, RequestMeta};

/// The last day's failed logins and lockouts within an auditor's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginAlerts {
    pub failed_logins: i64,
    pub lockouts: i64,
}

/// What `pcis audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub records: i64,
    pub broken: Option<ChainBreak>,
    /// The chain holds its key's check value, so the key used is known to be the right one
    /// (an older chain holds none until it first verifies).
    pub key_known: bool,
}

impl App {
    pub async fn search_audit(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        filter: &AuditFilter,
        listing: &Listing<AuditSort>,
    ) -> DomainResult<Page<AuditRecord>> {
        let mut uc = self.read_case(actor, meta, AuditAction::AuditSearch, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::AuditSearch)).await?;
        let result = store::search(uc.tx(), &scope, filter, listing).await.db()?;
        uc.detail(serde_json::json!({ "username": filter.username, "action": filter.action,
            "customer_no": filter.customer_no, "page": listing.page }));
        uc.finish().await?;
        Ok(result)
    }

    /// Names for the targets of audit records the actor has just found, keyed by (kind, id):
    /// `C000000001 张**`, `王五 (u_admin)`, `110000 总行`. Customer names are masked.
    pub async fn audit_target_names(
        &self,
        records: &[AuditRecord],
    ) -> DomainResult<std::collections::HashMap<(String, String), String>> {
        let mut wanted: std::collections::BTreeMap<&str, Vec<i64>> = Default::default();
        for r in records {
            if let Ok(id) = r.entry.target_id.parse::<i64>() {
                wanted.entry(r.entry.target_type.as_str()).or_default().push(id);
            }
        }
        let mut names = std::collections::HashMap::new();
        let mut tx = self.db.begin_read().await.db()?;
        for (kind, mut ids) in wanted {
            ids.sort_unstable();
            ids.dedup();
            for (id, code, name) in store::target_names(&mut tx, kind, &ids).await.db()? {
                let label = match kind {
                    "customer" => format!("{code} {}", SensitiveField::Name.mask(&name)),
                    "user" => format!("{name} ({code})"),
                    _ => format!("{code} {name}"),
                };
                names.insert((kind.to_owned(), id.to_string()), label);
            }
        }
        Ok(names)
    }

    /// Walks the whole chain in order, then checks the head row agrees with the last record
    /// (a deleted tail would otherwise pass).
    pub async fn verify_audit(&self, mut progress: impl FnMut(i64)) -> DomainResult<VerifyReport> {
        let mut tx = self.db.begin_read().await.db()?;
        let stored_check = store::stored_key_check(&mut tx).await.db()?;
        if stored_check.as_deref().is_some_and(|c| c != key_check(&self.keys.audit_hmac)) {
            return Ok(VerifyReport { records: 0, broken: Some(ChainBreak::WrongKey), key_known: true });
        }
        let mut prev = (0_i64, GENESIS.to_owned());
        let mut count = 0;
        loop {
            let batch = store::read_after(&mut tx, prev.0, 5000).await.db()?;
            if batch.is_empty() {
                break;
            }
            count += batch.len() as i64;
            if let Err(b) = verify_chain(&self.keys.audit_hmac, &mut prev, &batch) {
                return Ok(VerifyReport {
                    records: count,
                    broken: Some(b),
                    key_known: stored_check.is_some(),
                });
            }
            progress(count);
        }
        let head = store::head(&mut tx).await.db()?;
        let broken = (head != prev).then_some(ChainBreak::Unlinked { seq: prev.0 + 1 });
        drop(tx);
        let key_known = stored_check.is_some() || broken.is_none();
        if broken.is_none() && stored_check.is_none() && count > 0 {
            let mut tx = self.db.begin().await.db()?;
            store::record_key_check(&mut tx, &self.keys.audit_hmac).await.db()?;
            tx.commit().await.db()?;
        }
        Ok(VerifyReport { records: count, broken, key_known })
    }
}

impl App {
    /// Records what an operator did from the command line (a key rotation, a backup, the
    /// application role's grants): no person is signed in, so the record names `system`.
    pub async fn record_operation(
        &self,
        action: AuditAction,
        target: impl ToString,
        detail: serde_json::Value,
    ) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        let record = with_detail(crate::entry(crate::bootstrap::system(), action, target), detail);
        self.record(&mut tx, record).await?;
        tx.commit().await.db()
    }
}

pub(crate) fn with_detail(e: AuditEntry, detail: serde_json::Value) -> AuditEntry {
    AuditEntry { detail: detail.to_string(), ..e }
}

impl App {
    /// Failed logins and lockouts of the last 24 hours in the auditor's scope, for the
    /// auditor's home (password spraying and guessing show here first); audited with the
    /// monitoring flags.
    pub async fn login_alerts(&self, actor: &Actor, meta: &RequestMeta) -> DomainResult<LoginAlerts> {
        let mut uc = self.read_case(actor, meta, AuditAction::AuditFlags, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::AuditSearch)).await?;
        let since = Some(self.clock.now() - time::Duration::hours(24));
        let failed = AuditFilter {
            action: AuditAction::SessionLogin.code().into(),
            outcome: Some(Outcome::Failed),
            from: since,
            ..Default::default()
        };
        let locks =
            AuditFilter { action: AuditAction::SessionLock.code().into(), from: since, ..Default::default() };
        let alerts = LoginAlerts {
            failed_logins: store::count(uc.tx(), &scope, &failed).await.db()?,
            lockouts: store::count(uc.tx(), &scope, &locks).await.db()?,
        };
        uc.detail(serde_json::json!({ "failed_logins": alerts.failed_logins, "lockouts": alerts.lockouts }));
        uc.finish().await?;
        Ok(alerts)
    }

    /// Open monitoring flags (e.g. repeated credit-lookup misses) for the auditor's scope.
    pub async fn monitoring_flags(&self, actor: &Actor, meta: &RequestMeta) -> DomainResult<Vec<Flag>> {
        let mut uc = self.read_case(actor, meta, AuditAction::AuditFlags, "").await?;
        let scope = uc.check(self.policy.scope(actor, Action::AuditSearch)).await?;
        let flags = pcis_store::monitoring::open_flags(uc.tx(), &scope).await.db()?;
        uc.finish().await?;
        Ok(flags)
    }
}
