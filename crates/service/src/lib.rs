//! PCIS use cases. Each operation reads straight down: open a transaction, ask the policy,
//! do the work, write the audit record in the same transaction, commit. A denial is audited
//! in a transaction of its own (the business one is dropped first) and returned as 403.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod customers;
mod hashing;
pub mod import;
pub mod institutions;
pub mod jobs;
pub mod key_ring;
pub mod keys;
pub mod ops;
pub mod parameters;
pub mod proposals;
pub mod roles;
pub mod suspects;
mod use_case;
pub mod users;

use std::sync::Arc;

use pcis_domain::audit::{AuditEntry, AuditWho, Outcome};
use pcis_domain::audit_action::AuditAction;
use pcis_domain::policy::{Actor, Policy};
use pcis_domain::{DomainError, DomainResult};
use pcis_store::{Db, DbError, Tx};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::SecurityConfig;
/// The query shapes the presentation layers pass in and get back; storage itself stays hidden.
pub use pcis_store::Page;
pub use pcis_store::audit::{AuditFilter, AuditSort};
pub use pcis_store::customers::CustomerSort;
pub use pcis_store::customers::{CustomerRecord, CustomerSummary, Holding, Transaction};
pub use pcis_store::listing::{Listing, PAGE_SIZES, SortKey};
pub use pcis_store::proposals::Proposal;
pub use pcis_store::suspects::SuspectSort;
pub use pcis_store::users::{UserFilter, UserSort};
pub use proposals::FullChange;

/// Where a request came from, for the audit record.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: String,
}

/// Key material the services need. Loaded by the binary from the key file or environment,
/// never from the database.
#[derive(Clone)]
pub struct Keys {
    pub audit_hmac: Arc<[u8]>,
    /// Data keys (versioned) and the blind-index key for C2/C3 values (R-PRV-3).
    pub data: Arc<key_ring::KeyRing>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// The services and what they share.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub policy: Arc<Policy>,
    pub config: Arc<SecurityConfig>,
    pub keys: Keys,
    pub clock: Arc<dyn Clock>,
    /// This process's counters, for `/metrics`.
    pub metrics: Arc<ops::Metrics>,
}

impl App {
    /// Loads the permission matrix from the (migrated) database.
    pub async fn new(db: Db, config: SecurityConfig, keys: Keys, clock: Arc<dyn Clock>) -> DomainResult<App> {
        let mut tx = db.begin_read().await.db()?;
        let grants = pcis_store::matrix::load(&mut tx).await.db()?;
        drop(tx);
        let metrics = Arc::default();
        Ok(App { db, policy: Arc::new(Policy::new(grants)), config: Arc::new(config), keys, clock, metrics })
    }

    /// Writes an audit record inside the caller's transaction.
    pub(crate) async fn record(&self, tx: &mut Tx, entry: AuditEntry) -> DomainResult<()> {
        pcis_store::audit::append(tx, &self.keys.audit_hmac, &entry, self.clock.now()).await.db()?;
        self.metrics.audit_appended(entry.outcome);
        Ok(())
    }

    /// Writes an audit record in a transaction of its own: for an operation that only read,
    /// on the read pool (on SQLite, beside other readers rather than queued behind the one
    /// writer for all of its query). Its caller returns what it read only once this commits.
    pub(crate) async fn record_alone(&self, entry: AuditEntry) -> DomainResult<()> {
        let mut tx = self.db.begin().await.db()?;
        self.record(&mut tx, entry).await?;
        tx.commit().await.db()
    }

    /// Whether the actor holds the operation's permission at all, for a page that refuses
    /// bad input before it reaches the operation; a refusal is audited like any other.
    pub async fn require(&self, actor: &Actor, meta: &RequestMeta, action: AuditAction) -> DomainResult<()> {
        self.permit(actor, meta, action).await.map(drop)
    }

    /// Records a request the web layer refused before any use case ran (a missing or wrong
    /// CSRF token), as `action` on the request's path; every denial is audited (R-USR-6).
    pub async fn refuse_request(
        &self,
        actor: Option<&Actor>,
        meta: &RequestMeta,
        action: AuditAction,
        path: &str,
        reason: &'static str,
    ) -> DomainError {
        let who = match actor {
            Some(a) => who(a, meta),
            None => AuditWho {
                ip: meta.ip.clone(),
                user_agent: truncate(&meta.user_agent, 200),
                ..AuditWho::default()
            },
        };
        self.record_denial(entry(who, action, truncate(path, 200)), DomainError::Denied { reason }).await
    }

    /// Records a denial in a transaction of its own; other errors pass through unrecorded.
    pub(crate) async fn record_denial(&self, entry: AuditEntry, error: DomainError) -> DomainError {
        let DomainError::Denied { reason } = error else { return error };
        let entry = AuditEntry { outcome: Outcome::Denied, reason: reason.to_owned(), ..entry };
        if let Err(e) = self.record_alone(entry).await {
            tracing::error!(error = %e, "could not record a denial");
        }
        error
    }
}

/// Who, from where: the actor side of an audit record.
pub fn who(actor: &Actor, meta: &RequestMeta) -> AuditWho {
    AuditWho {
        user_id: Some(actor.user_id.0),
        username: actor.username.clone(),
        roles: actor.roles.iter().map(|r| r.code()).collect::<Vec<_>>().join(","),
        institution_id: Some(actor.institution_id.0),
        ip: meta.ip.clone(),
        user_agent: truncate(&meta.user_agent, 200),
    }
}

/// An audit entry that succeeded; callers adjust what differs.
pub fn entry(who: AuditWho, action: AuditAction, target_id: impl ToString) -> AuditEntry {
    AuditEntry {
        who,
        action: action.code().to_owned(),
        target_type: action.target_kind().to_owned(),
        target_id: target_id.to_string(),
        detail: String::new(),
        reason: String::new(),
        outcome: Outcome::Success,
    }
}

pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// Storage failures become an internal error; the detail goes to the log, never the user.
/// The operator's commands print the error: where the cause is the deployment's (a missing
/// grant, an unreachable database), it says so and what to do.
pub(crate) trait DbExt<T> {
    fn db(self) -> DomainResult<T>;
}

impl<T> DbExt<T> for Result<T, DbError> {
    fn db(self) -> DomainResult<T> {
        self.map_err(|e| {
            tracing::error!(error = %e, "storage error");
            DomainError::Internal(storage_failure(&e))
        })
    }
}

/// What an operator is told of a storage failure. Only the database's messages about rights
/// and connections are repeated: others may quote a row's values.
fn storage_failure(e: &DbError) -> String {
    match e {
        DbError::Database(d) if d.code().as_deref() == Some("42501") => format!(
            "storage: {}; the application role lacks a right: run `pcis grants --app-role ROLE --apply` \
             as the schema's owner",
            d.message()
        ),
        DbError::Io(_) | DbError::PoolTimedOut | DbError::Tls(_) => {
            format!("storage: the database cannot be reached ({e}); check database_url and the server")
        }
        _ => "storage".into(),
    }
}
