//! The audit log in storage: append under the chain head's row lock, search, and read in
//! order for verification.

use pcis_domain::audit::{AuditEntry, AuditRecord, AuditWho, Outcome, chain_hash, key_check};
use pcis_domain::policy::ScopeFilter;
use time::OffsetDateTime;

use crate::db::{Arg, SqlBuilder};
use crate::listing::Listing;
use crate::{DbResult, Page, Tx, bind_args, exec, from_micros, micros, on_tx};

/// Appends one record. Updating the single chain-head row first serialises concurrent
/// appenders (row lock on PostgreSQL, the write lock on SQLite) until the transaction ends,
/// so the chain never forks; if the business transaction rolls back, so does its record.
pub async fn append(tx: &mut Tx, key: &[u8], entry: &AuditEntry, at: OffsetDateTime) -> DbResult<i64> {
    let (seq, prev): (i64, String) = on_tx!(tx, c => {
        sqlx::query_as("UPDATE audit_chain_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, last_hash")
            .fetch_one(c)
            .await
    })?;
    let hash = chain_hash(key, &prev, seq, at, entry);
    let w = &entry.who;
    exec!(
        tx,
        sqlx::query(
            "INSERT INTO audit_log (seq, at_us, user_id, username, roles, institution_id, ip, user_agent, action,
                                    target_type, target_id, detail, reason, outcome, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(seq)
        .bind(micros(at))
        .bind(w.user_id)
        .bind(&w.username)
        .bind(&w.roles)
        .bind(w.institution_id)
        .bind(&w.ip)
        .bind(&w.user_agent)
        .bind(&entry.action)
        .bind(&entry.target_type)
        .bind(&entry.target_id)
        .bind(&entry.detail)
        .bind(&entry.reason)
        .bind(entry.outcome.code())
        .bind(&prev)
        .bind(&hash)
    )?;
    // The first record of a chain also records its key's check value.
    exec!(
        tx,
        sqlx::query(
            "UPDATE audit_chain_head SET last_hash = $1,
                    key_check = COALESCE(key_check, CASE WHEN seq = 1 THEN $2 END) WHERE id = 1"
        )
        .bind(&hash)
        .bind(key_check(key))
    )?;
    Ok(seq)
}

/// The audit key's check value stored with the chain, if one was recorded.
pub async fn stored_key_check(tx: &mut Tx) -> DbResult<Option<String>> {
    on_tx!(tx, c => sqlx::query_scalar("SELECT key_check FROM audit_chain_head WHERE id = 1").fetch_one(c).await)
}

/// Records the check value of a key that has just verified the whole chain (an older chain).
pub async fn record_key_check(tx: &mut Tx, key: &[u8]) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query("UPDATE audit_chain_head SET key_check = $1 WHERE id = 1 AND key_check IS NULL")
            .bind(key_check(key))
    )?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at_us: i64,
    user_id: Option<i64>,
    username: String,
    roles: String,
    institution_id: Option<i64>,
    ip: String,
    user_agent: String,
    action: String,
    target_type: String,
    target_id: String,
    detail: String,
    reason: String,
    outcome: String,
    prev_hash: String,
    hash: String,
}

impl Row {
    fn into_domain(self) -> DbResult<AuditRecord> {
        let outcome = Outcome::parse(&self.outcome).ok_or_else(|| {
            sqlx::Error::Protocol(format!("audit record {} has outcome {:?}", self.seq, self.outcome))
        })?;
        Ok(AuditRecord {
            seq: self.seq,
            at: from_micros(self.at_us),
            entry: AuditEntry {
                who: AuditWho {
                    user_id: self.user_id,
                    username: self.username,
                    roles: self.roles,
                    institution_id: self.institution_id,
                    ip: self.ip,
                    user_agent: self.user_agent,
                },
                action: self.action,
                target_type: self.target_type,
                target_id: self.target_id,
                detail: self.detail,
                reason: self.reason,
                outcome,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

const COLUMNS: &str =
    "a.seq, a.at_us, a.user_id, a.username, a.roles, a.institution_id, a.ip, a.user_agent, a.action,
    a.target_type, a.target_id, a.detail, a.reason, a.outcome, a.prev_hash, a.hash";

/// Records in chain order after `after_seq`, at most `limit`, for verification.
pub async fn read_after(tx: &mut Tx, after_seq: i64, limit: i64) -> DbResult<Vec<AuditRecord>> {
    let sql = format!("SELECT {COLUMNS} FROM audit_log a WHERE a.seq > $1 ORDER BY a.seq LIMIT $2");
    let rows: Vec<Row> = on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after_seq).bind(limit).fetch_all(c).await
    })?;
    rows.into_iter().map(Row::into_domain).collect()
}

/// The head as the chain table says: the last seq and hash.
pub async fn head(tx: &mut Tx) -> DbResult<(i64, String)> {
    on_tx!(tx, c => sqlx::query_as("SELECT seq, last_hash FROM audit_chain_head WHERE id = 1").fetch_one(c).await)
}

/// Search filters of the auditor's page (R-AUD-3).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: String,
    /// Exact action or a prefix ending in `.` (e.g. `session.`).
    pub action: String,
    pub outcome: Option<Outcome>,
    /// A customer number (客户号): records about that customer or its change proposals.
    pub customer_no: String,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

crate::sort_keys! {
    /// The audit log in the order it was written; newest first unless asked.
    pub enum AuditSort {
        At = ("at", "a.seq"),
    }
}

impl AuditSort {
    pub const USUAL: Listing<AuditSort> = Listing { page: 1, per_page: 50, sort: AuditSort::At, desc: true };
}

/// Records of actors within the scope, plus records with no institution
/// (failed logins of unknown names, refused anonymous requests) for a scope that covers the
/// whole tree: the head office's auditor must be able to review password spraying.
pub async fn search(
    tx: &mut Tx,
    scope: &ScopeFilter,
    f: &AuditFilter,
    listing: &Listing<AuditSort>,
) -> DbResult<Page<AuditRecord>> {
    let wh = filtered(scope, f);
    let count_sql = format!("SELECT COUNT(*){}", wh.sql);
    let total: i64 = on_tx!(tx, c => {
        bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.clone())), &wh.args).fetch_one(c).await
    })?;
    let sql = format!("SELECT {COLUMNS}{}{}", wh.sql, listing.sql_tail());
    let rows: Vec<Row> = on_tx!(tx, c => {
        bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), &wh.args).fetch_all(c).await
    })?;
    let items = rows.into_iter().map(Row::into_domain).collect::<DbResult<_>>()?;
    Ok(listing.page_of(items, total))
}

/// How many records the search would find.
pub async fn count(tx: &mut Tx, scope: &ScopeFilter, f: &AuditFilter) -> DbResult<i64> {
    let wh = filtered(scope, f);
    let sql = format!("SELECT COUNT(*){}", wh.sql);
    on_tx!(tx, c => bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())), &wh.args).fetch_one(c).await)
}

/// The `FROM … WHERE …` of a search: the scope (see [`search`]) and the filters.
fn filtered(scope: &ScopeFilter, f: &AuditFilter) -> SqlBuilder {
    let mut wh =
        SqlBuilder::new(" FROM audit_log a LEFT JOIN institution i ON i.id = a.institution_id WHERE 1 = 1");
    match scope {
        ScopeFilter::Subtree(root) if root.depth() > 1 => {
            wh.scope("i.path", scope);
        }
        ScopeFilter::Subtree(_) | ScopeFilter::All => {}
    }
    if !f.username.trim().is_empty() {
        wh.push(" AND a.username = ").bind(Arg::Text(f.username.trim().to_lowercase()));
    }
    let action = f.action.trim();
    if let Some(prefix) = action.strip_suffix('.') {
        wh.push(" AND a.action >= ").bind(Arg::Text(format!("{prefix}.")));
        wh.push(" AND a.action < ").bind(Arg::Text(format!("{prefix}/")));
    } else if !action.is_empty() {
        wh.push(" AND a.action = ").bind(Arg::Text(action.to_owned()));
    }
    let customer_no = f.customer_no.trim();
    if !customer_no.is_empty() {
        // Resolved inside the query: a number nobody has finds nothing, as one out of sight.
        // `target_id <> ''` lets both backends use the partial index of named targets.
        let no = Arg::Text(customer_no.to_owned());
        wh.push(" AND a.target_id <> '' AND ((a.target_type = 'customer' AND a.target_id = (SELECT CAST(c.id AS TEXT) FROM customer c WHERE c.customer_no = ")
            .bind(no.clone())
            .push(")) OR (a.target_type = 'proposal' AND a.target_id IN (SELECT CAST(p.id AS TEXT) FROM customer_proposal p JOIN customer c ON c.id = p.customer_id WHERE c.customer_no = ")
            .bind(no)
            .push(")))");
    }
    if let Some(o) = f.outcome {
        wh.push(" AND a.outcome = ").bind(Arg::Text(o.code().into()));
    }
    if let Some(from) = f.from {
        wh.push(" AND a.at_us >= ").bind(Arg::I64(micros(from)));
    }
    if let Some(to) = f.to {
        wh.push(" AND a.at_us < ").bind(Arg::I64(micros(to)));
    }
    wh
}

/// How many times `username` failed `action` since `since` (e.g. credit-lookup misses).
pub async fn count_failures(
    tx: &mut Tx,
    username: &str,
    action: &str,
    since: OffsetDateTime,
) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "SELECT COUNT(*) FROM audit_log WHERE username = $1 AND action = $2 AND outcome = 'failed' AND at_us >= $3",
        )
        .bind(username)
        .bind(action)
        .bind(micros(since))
        .fetch_one(c)
        .await
    })
}

/// What an audit record's target is called, for a human reading the log: the code and name
/// of institutions, the username and display name of users, the number and (clear) name of
/// customers — the caller masks it. Targets of other kinds, or gone, are not listed.
pub async fn target_names(tx: &mut Tx, kind: &str, ids: &[i64]) -> DbResult<Vec<(i64, String, String)>> {
    let select = match kind {
        "customer" => "SELECT id, customer_no, name FROM customer WHERE id",
        "user" => "SELECT id, username, display_name FROM app_user WHERE id",
        "institution" => "SELECT id, code, name FROM institution WHERE id",
        _ => return Ok(Vec::new()),
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = SqlBuilder::new(select);
    q.in_list(ids.iter().map(|id| Arg::I64(*id)));
    on_tx!(tx, c => bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await)
}
