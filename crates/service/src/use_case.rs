//! The use-case runner (用例骨架): the one skeleton every operation a person asks for shares.
//!
//! ```text
//! open ── the caller holds the operation's permission? ── no ──► audited 403
//!   │ yes: a transaction (write, or on the read pool for a read)
//! work ── uc.check(policy decision) ── refused ──► rolled back, then an audited 403
//!   │ (validation, storage, the audit record's target and detail)
//! finish ── the audit record in the same transaction, commit (a read: the record alone,
//!           committed before the result is returned)
//! ```
//!
//! Invariants: a caller without the operation's permission is refused, and the refusal
//! recorded, before the request is validated or anything it names is looked up, so it
//! learns nothing (not even whether a code exists); every refusal is recorded in a
//! transaction of its own after the business one is rolled back; a change and its record
//! commit together or not at all.

use pcis_domain::audit::{AuditEntry, Outcome};
use pcis_domain::audit_action::AuditAction;
use pcis_domain::policy::Actor;
use pcis_domain::{DomainError, DomainResult};
use pcis_store::Tx;

use crate::{App, DbExt, RequestMeta, entry, who};

/// One operation in progress: its transaction and the audit record it will write.
pub(crate) struct UseCase<'a> {
    app: &'a App,
    tx: Option<Tx>,
    entry: AuditEntry,
    /// A read: the record is written on its own when the read is done.
    read: bool,
}

/// The caller holds the operation's permission: what may be validated, hashed or looked up
/// before its transaction opens.
pub(crate) struct Permit<'a> {
    app: &'a App,
    entry: AuditEntry,
}

impl App {
    /// Asks the policy whether the caller holds the operation's permission at all; a refusal
    /// is recorded and nothing else happens.
    pub(crate) async fn permit(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: AuditAction,
    ) -> DomainResult<Permit<'_>> {
        let entry = entry(who(actor, meta), action, "");
        let needed = action.permissions();
        if !needed.is_empty() && !needed.iter().any(|a| self.policy.can(actor, *a)) {
            return Err(self
                .record_denial(entry, DomainError::Denied { reason: "deny.no_permission" })
                .await);
        }
        Ok(Permit { app: self, entry })
    }

    /// Opens an operation that changes something.
    pub(crate) async fn write_case(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: AuditAction,
        target: impl ToString,
    ) -> DomainResult<UseCase<'_>> {
        self.permit(actor, meta, action).await?.write(target).await
    }

    /// Opens an operation that only reads.
    pub(crate) async fn read_case(
        &self,
        actor: &Actor,
        meta: &RequestMeta,
        action: AuditAction,
        target: impl ToString,
    ) -> DomainResult<UseCase<'_>> {
        self.permit(actor, meta, action).await?.read(target).await
    }
}

impl<'a> Permit<'a> {
    /// A write transaction for the operation on `target`.
    pub(crate) async fn write(self, target: impl ToString) -> DomainResult<UseCase<'a>> {
        let tx = self.app.db.begin().await.db()?;
        Ok(self.open(tx, target, false))
    }

    /// A transaction on the read pool (on SQLite a slow read does not hold the one writer);
    /// the record is written on its own when the read is done.
    pub(crate) async fn read(self, target: impl ToString) -> DomainResult<UseCase<'a>> {
        let tx = self.app.db.begin_read().await.db()?;
        Ok(self.open(tx, target, true))
    }

    fn open(self, tx: Tx, target: impl ToString, read: bool) -> UseCase<'a> {
        let mut entry = self.entry;
        entry.target_id = target.to_string();
        UseCase { app: self.app, tx: Some(tx), entry, read }
    }
}

impl UseCase<'_> {
    /// The operation's transaction. Only a refused operation has none, and its caller has
    /// returned the refusal.
    pub(crate) fn tx(&mut self) -> &mut Tx {
        self.tx.as_mut().expect("a refused use case is not used again")
    }

    /// The policy's decision. A refusal rolls the transaction back and is recorded on its
    /// own; other errors pass through unrecorded (nothing was done).
    pub(crate) async fn check<T>(&mut self, decision: DomainResult<T>) -> DomainResult<T> {
        match decision {
            Err(error @ DomainError::Denied { .. }) => {
                drop(self.tx.take());
                Err(self.app.record_denial(self.entry.clone(), error).await)
            }
            other => other,
        }
    }

    /// A thing the request named, which must exist: a missing one is refused like one out
    /// of reach (`reason`), so that from outside the two look the same; both are recorded.
    pub(crate) async fn found<T>(&mut self, thing: Option<T>, reason: &'static str) -> DomainResult<T> {
        self.check(thing.ok_or(DomainError::Denied { reason })).await
    }

    /// The record's target, when it is known only once the work is done (a new row's id).
    pub(crate) fn target(&mut self, id: impl ToString) {
        self.entry.target_id = id.to_string();
    }

    /// What the record says of the operation: masked values only.
    pub(crate) fn detail(&mut self, detail: serde_json::Value) {
        self.entry.detail = detail.to_string();
    }

    /// How it ended, when not a plain success (a lookup that found nothing is a failure).
    pub(crate) fn outcome(&mut self, outcome: Outcome) {
        self.entry.outcome = outcome;
    }

    /// The reason the person gave, kept with the record.
    pub(crate) fn reason(&mut self, reason: &str) {
        self.entry.reason = crate::truncate(reason.trim(), 200);
    }

    /// Writes the audit record and commits.
    pub(crate) async fn finish(mut self) -> DomainResult<()> {
        let mut tx = self.tx.take().expect("a refused use case is not finished");
        if self.read {
            drop(tx);
            return self.app.record_alone(self.entry).await;
        }
        self.app.record(&mut tx, self.entry).await?;
        tx.commit().await.db()
    }
}
