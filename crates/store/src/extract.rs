//! Storage of the daily core-banking extracts (R-ETL-2): batch lookups by the core system's
//! keys, upserts that leave identical rows alone, import runs with their checkpoints, and the
//! set-based tier recomputation that follows a load (R-CUS-4).

use std::collections::HashMap;

use pcis_domain::customer::{CustomerId, TierThresholds};
use pcis_domain::institution::{InstPath, InstitutionId};
use pcis_domain::user::UserId;
use serde::Serialize;
use time::OffsetDateTime;

use crate::customers::{CustomerColumns, Stored};
use crate::db::{Arg, SqlBuilder};
use crate::{DbResult, Tx, bind_args, exec, micros, on_tx};

/// Values per statement in lookups and multi-row inserts. sqlx binds SQLite parameters by
/// asking each one's name, and SQLite finds a name by walking the statement's parameter list:
/// binding n parameters costs n². A thousand-row insert of nine columns spent 88% of an
/// import in that walk; a few hundred parameters per statement make it negligible.
pub const PARAMS_PER_STATEMENT: usize = 400;

/// Runs `select … IN (keys)` in chunks and collects the rows.
async fn rows_for_keys<R>(tx: &mut Tx, select: &str, keys: &[String]) -> DbResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(PARAMS_PER_STATEMENT) {
        let mut q = SqlBuilder::new(select);
        q.in_list(chunk.iter().map(|v| Arg::Text(v.clone())));
        let rows: Vec<R> = on_tx!(tx, c => {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(q.sql.clone())), &q.args).fetch_all(c).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Rows already loaded, by key: (id, hash of the row they were loaded from).
pub type Known = HashMap<String, (i64, Option<String>)>;

async fn known(tx: &mut Tx, select: &str, keys: &[String]) -> DbResult<Known> {
    let rows: Vec<(String, i64, Option<String>)> = rows_for_keys(tx, select, keys).await?;
    Ok(rows.into_iter().map(|(k, id, h)| (k, (id, h))).collect())
}

/// Customers by customer number.
pub async fn customers_by_no(tx: &mut Tx, numbers: &[String]) -> DbResult<Known> {
    known(tx, "SELECT customer_no, id, source_hash FROM customer WHERE customer_no", numbers).await
}

/// Accounts by the blind index of their number.
pub async fn accounts_by_bidx(tx: &mut Tx, bidxs: &[String]) -> DbResult<Known> {
    known(tx, "SELECT account_bidx, id, source_hash FROM account WHERE account_bidx", bidxs).await
}

/// The owning customer of accounts, by the blind index of their number.
pub async fn account_owners(tx: &mut Tx, bidxs: &[String]) -> DbResult<HashMap<String, (i64, i64)>> {
    let sql = "SELECT account_bidx, id, customer_id FROM account WHERE account_bidx";
    let rows: Vec<(String, i64, i64)> = rows_for_keys(tx, sql, bidxs).await?;
    Ok(rows.into_iter().map(|(k, a, c)| (k, (a, c))).collect())
}

/// Where a row came from (R-ETL-6) and the hash that tells an identical row next time.
pub struct Source<'a> {
    pub run: i64,
    pub row: i64,
    pub hash: &'a str,
}

/// A customer as the extract describes it, beyond the columns staff may also change.
pub struct ExtractCustomer<'a> {
    pub customer_no: &'a str,
    pub cols: &'a CustomerColumns,
    pub owner: InstitutionId,
    pub owner_path: &'a InstPath,
    pub risk_level: Option<&'a str>,
    pub risk_assessed_on: Option<&'a str>,
    pub vip_member: bool,
    pub points: i64,
}

/// Inserts a customer (`existing` is `None`) or rewrites it with the extract's values; a
/// rewrite counts as a change, so a staff proposal based on the old values will not apply.
pub async fn upsert_customer(
    tx: &mut Tx,
    existing: Option<i64>,
    c: &ExtractCustomer<'_>,
    src: &Source<'_>,
    now: OffsetDateTime,
) -> DbResult<CustomerId> {
    let mut values = c.cols.assignments();
    values.extend([
        ("owner_institution_id", Arg::I64(c.owner.0)),
        ("owner_path", Arg::Text(c.owner_path.as_str().into())),
        ("risk_level", Arg::OptText(c.risk_level.map(str::to_owned))),
        ("risk_assessed_on", Arg::OptText(c.risk_assessed_on.map(str::to_owned))),
        ("vip_member", Arg::Bool(c.vip_member)),
        ("points", Arg::I64(c.points)),
        ("complete", Arg::Bool(true)),
        ("source_hash", Arg::Text(src.hash.to_owned())),
        ("source_run", Arg::I64(src.run)),
        ("source_row", Arg::I64(src.row)),
        ("updated_us", Arg::I64(micros(now))),
    ]);
    if let Some(id) = existing {
        let mut q = SqlBuilder::new("UPDATE customer SET version = version + 1, status = 'active'");
        for (col, arg) in values {
            q.push(&format!(", {col} = ")).bind(arg);
        }
        q.push(" WHERE id = ").bind(Arg::I64(id));
        exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))?;
        return Ok(CustomerId(id));
    }
    values.extend([
        ("customer_no", Arg::Text(c.customer_no.to_owned())),
        ("status", Arg::Text("active".into())),
        ("aum", Arg::I64(0)),
        ("tier", Arg::Text("ordinary".into())),
        ("created_us", Arg::I64(micros(now))),
    ]);
    Ok(CustomerId(crate::customers::insert_customer_row(tx, values).await?))
}

/// Makes `user` the customer's account manager (or leaves it without one).
pub async fn set_manager(
    tx: &mut Tx,
    customer: CustomerId,
    user: Option<UserId>,
    today: &str,
) -> DbResult<()> {
    let current: Option<i64> = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT user_id FROM customer_assignment WHERE customer_id = $1 AND kind = 'manager'")
            .bind(customer.0)
            .fetch_optional(c)
            .await
    })?;
    if current == user.map(|u| u.0) {
        return Ok(());
    }
    exec!(
        tx,
        sqlx::query("DELETE FROM customer_assignment WHERE customer_id = $1 AND kind = 'manager'")
            .bind(customer.0)
    )?;
    if let Some(user) = user {
        crate::customers::assign(
            tx,
            customer,
            user,
            pcis_domain::customer::AssignmentKind::Manager,
            today,
            None,
        )
        .await?;
    }
    Ok(())
}

/// An account or holding as the extract describes it.
pub struct ExtractAccount<'a> {
    pub number: &'a Stored,
    pub customer: i64,
    pub product_type: &'a str,
    pub product_code: &'a str,
    pub product_name: &'a str,
    pub currency: &'a str,
    pub balance: i64,
    pub opened_on: &'a str,
    pub matures_on: Option<&'a str>,
    pub status: &'a str,
    pub institution: InstitutionId,
}

pub async fn upsert_account(
    tx: &mut Tx,
    existing: Option<i64>,
    a: &ExtractAccount<'_>,
    src: &Source<'_>,
) -> DbResult<i64> {
    // The columns both statements write, from $2 on; $1 is the id or the sealed number.
    const SET: [&str; 14] = [
        "customer_id",
        "product_type",
        "product_code",
        "product_name",
        "currency",
        "balance",
        "opened_on",
        "matures_on",
        "status",
        "institution_id",
        "source_hash",
        "source_run",
        "source_row",
        "account_masked",
    ];
    let sql = match existing {
        Some(_) => {
            let set: Vec<String> = SET.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 2)).collect();
            format!("UPDATE account SET {} WHERE id = $1", set.join(", "))
        }
        None => {
            let marks: Vec<String> = (2..=SET.len() + 2).map(|i| format!("${i}")).collect();
            format!(
                "INSERT INTO account (account_sealed, {}, account_bidx) VALUES ($1, {}) RETURNING id",
                SET.join(", "),
                marks.join(", ")
            )
        }
    };
    let first = match existing {
        Some(id) => Arg::I64(id),
        None => Arg::Bytes(Some(a.number.sealed.clone())),
    };
    let mut args = vec![
        first,
        Arg::I64(a.customer),
        Arg::Text(a.product_type.into()),
        Arg::Text(a.product_code.into()),
        Arg::Text(a.product_name.into()),
        Arg::Text(a.currency.into()),
        Arg::I64(a.balance),
        Arg::Text(a.opened_on.into()),
        Arg::OptText(a.matures_on.map(str::to_owned)),
        Arg::Text(a.status.into()),
        Arg::I64(a.institution.0),
        Arg::Text(src.hash.into()),
        Arg::I64(src.run),
        Arg::I64(src.row),
        Arg::Text(a.number.masked.clone()),
    ];
    match existing {
        Some(id) => {
            exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), &args))?;
            Ok(id)
        }
        None => {
            args.push(Arg::Text(a.number.bidx.clone().unwrap_or_default()));
            on_tx!(tx, c => {
                bind_args!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())), &args).fetch_one(c).await
            })
        }
    }
}

/// A transaction of the extract, its account resolved.
pub struct ExtractTransaction<'a> {
    pub txn_no: &'a str,
    pub account: i64,
    pub customer: i64,
    pub at: OffsetDateTime,
    pub amount: i64,
    pub currency: &'a str,
    pub channel: &'a str,
    pub summary: &'a str,
}

/// Inserts a batch of transactions in one statement; those whose journal number was loaded
/// before are skipped (transactions never change). Returns how many were new.
pub async fn insert_transactions(tx: &mut Tx, rows: &[ExtractTransaction<'_>], run: i64) -> DbResult<u64> {
    let mut inserted = 0;
    for chunk in rows.chunks(PARAMS_PER_STATEMENT / 9) {
        let mut q = SqlBuilder::new(
            "INSERT INTO txn (txn_no, account_id, customer_id, at_us, amount, currency, channel, summary, source_run) VALUES ",
        );
        for (i, t) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.bind(Arg::Text(t.txn_no.to_owned())).push(", ");
            q.bind(Arg::I64(t.account)).push(", ");
            q.bind(Arg::I64(t.customer)).push(", ");
            q.bind(Arg::I64(micros(t.at))).push(", ");
            q.bind(Arg::I64(t.amount)).push(", ");
            q.bind(Arg::Text(t.currency.to_owned())).push(", ");
            q.bind(Arg::Text(t.channel.to_owned())).push(", ");
            q.bind(Arg::Text(t.summary.to_owned())).push(", ");
            q.bind(Arg::I64(run)).push(")");
        }
        // Rows affected counts only the inserted ones (a journal number loaded before is skipped).
        q.push(" ON CONFLICT (txn_no) DO NOTHING");
        inserted += exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))?;
    }
    Ok(inserted)
}

/// The product catalogue: code → (type, name).
pub async fn products(tx: &mut Tx) -> DbResult<HashMap<String, (String, String)>> {
    let rows: Vec<(String, String, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT code, product_type, name FROM product").fetch_all(c).await
    })?;
    Ok(rows.into_iter().map(|(c, t, n)| (c, (t, n))).collect())
}

/// Inserts or updates a product; returns what happened.
pub async fn upsert_product(
    tx: &mut Tx,
    code: &str,
    kind: &str,
    name: &str,
    currency: &str,
    risk: Option<&str>,
) -> DbResult<Change> {
    let current: Option<(String, String, String, Option<String>)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT product_type, name, currency, risk_level FROM product WHERE code = $1")
            .bind(code)
            .fetch_optional(c)
            .await
    })?;
    let wanted = (kind.to_owned(), name.to_owned(), currency.to_owned(), risk.map(str::to_owned));
    let (sql, change) = match current {
        Some(c) if c == wanted => return Ok(Change::Unchanged),
        Some(_) => (
            "UPDATE product SET product_type = $2, name = $3, currency = $4, risk_level = $5 WHERE code = $1",
            Change::Updated,
        ),
        None => (
            "INSERT INTO product (code, product_type, name, currency, risk_level) VALUES ($1, $2, $3, $4, $5)",
            Change::Inserted,
        ),
    };
    exec!(tx, sqlx::query(sql).bind(code).bind(kind).bind(name).bind(currency).bind(risk))?;
    Ok(change)
}

/// What loading one row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Inserted,
    Updated,
    Unchanged,
}

// ---- runs ----

/// An import run as administrators see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub business_date: String,
    pub source: String,
    pub status: String,
    pub started_us: i64,
    pub finished_us: Option<i64>,
    pub counts: String,
    pub message: String,
}

const RUN: &str =
    "SELECT id, business_date, source, status, started_us, finished_us, counts, message FROM import_run";

/// The unfinished run of this folder and date, if a previous one was cut off.
pub async fn running(tx: &mut Tx, business_date: &str, source: &str) -> DbResult<Option<Run>> {
    let sql =
        format!("{RUN} WHERE business_date = $1 AND source = $2 AND status = 'running' ORDER BY id DESC");
    on_tx!(tx, c => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(business_date).bind(source).fetch_optional(c).await
    })
}

pub async fn start_run(tx: &mut Tx, business_date: &str, source: &str, now: OffsetDateTime) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar(
            "INSERT INTO import_run (business_date, source, status, started_us, counts, message)
             VALUES ($1, $2, 'running', $3, '{}', '') RETURNING id",
        )
        .bind(business_date)
        .bind(source)
        .bind(micros(now))
        .fetch_one(c)
        .await
    })
}

pub async fn finish_run(
    tx: &mut Tx,
    run: i64,
    status: &str,
    counts: &str,
    message: &str,
    now: OffsetDateTime,
) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query(
            "UPDATE import_run SET status = $2, counts = $3, message = $4, finished_us = $5 WHERE id = $1"
        )
        .bind(run)
        .bind(status)
        .bind(counts)
        .bind(message)
        .bind(micros(now))
    )?;
    Ok(())
}

pub async fn runs(tx: &mut Tx, limit: i64) -> DbResult<Vec<Run>> {
    let sql = format!("{RUN} ORDER BY id DESC LIMIT {limit}");
    on_tx!(tx, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).fetch_all(c).await)
}

/// Records how far the run got in a file, in the batch's own transaction.
pub async fn checkpoint(tx: &mut Tx, run: i64, file: &str, rows_done: i64, counts: &str) -> DbResult<()> {
    exec!(
        tx,
        sqlx::query(
            "INSERT INTO import_checkpoint (run_id, file, rows_done, counts) VALUES ($1, $2, $3, $4)
             ON CONFLICT (run_id, file) DO UPDATE SET rows_done = excluded.rows_done, counts = excluded.counts",
        )
        .bind(run)
        .bind(file)
        .bind(rows_done)
        .bind(counts)
    )?;
    Ok(())
}

/// The checkpoints of a run: file → (rows done, counts so far).
pub async fn checkpoints(tx: &mut Tx, run: i64) -> DbResult<HashMap<String, (i64, String)>> {
    let rows: Vec<(String, i64, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT file, rows_done, counts FROM import_checkpoint WHERE run_id = $1")
            .bind(run)
            .fetch_all(c)
            .await
    })?;
    Ok(rows.into_iter().map(|(f, n, c)| (f, (n, c))).collect())
}

// ---- tiering ----

/// Recomputes every active customer's AUM from its accounts (loans and closed accounts are
/// not assets) and its tier from the thresholds, writing the tier history of each change.
/// Set-based: a few statements whatever the number of customers. Returns (AUM changes, tier
/// changes).
pub async fn recompute_tiers(
    tx: &mut Tx,
    t: &TierThresholds,
    reason: &str,
    now: OffsetDateTime,
) -> DbResult<(u64, u64)> {
    let aum = exec!(
        tx,
        sqlx::query(
            "UPDATE customer SET aum = s.total
             FROM (SELECT c.id, COALESCE(SUM(a.balance), 0) AS total FROM customer c
                   LEFT JOIN account a ON a.customer_id = c.id AND a.product_type <> 'loan' AND a.status <> 'closed'
                   WHERE c.status = 'active' GROUP BY c.id) s
             WHERE customer.id = s.id AND customer.aum <> s.total"
        )
    )?;
    const TIER: &str = "CASE WHEN aum >= $3 THEN 'diamond' WHEN aum >= $2 THEN 'platinum'
        WHEN aum >= $1 THEN 'gold' ELSE 'ordinary' END";
    let history = format!(
        "INSERT INTO tier_history (customer_id, from_tier, to_tier, aum, reason, at_us)
         SELECT id, tier, {TIER}, aum, $4, $5 FROM customer WHERE status = 'active' AND tier <> {TIER}"
    );
    let tiers = exec!(
        tx,
        sqlx::query(sqlx::AssertSqlSafe(history))
            .bind(t.gold)
            .bind(t.platinum)
            .bind(t.diamond)
            .bind(reason)
            .bind(micros(now))
    )?;
    let update = format!("UPDATE customer SET tier = {TIER} WHERE status = 'active' AND tier <> {TIER}");
    exec!(tx, sqlx::query(sqlx::AssertSqlSafe(update)).bind(t.gold).bind(t.platinum).bind(t.diamond))?;
    Ok((aum, tiers))
}

/// Whether the folder `source` has been loaded to the end.
pub async fn loaded(tx: &mut Tx, source: &str) -> DbResult<bool> {
    let n: i64 = on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM import_run WHERE source = $1 AND status = 'done'")
            .bind(source)
            .fetch_one(c)
            .await
    })?;
    Ok(n > 0)
}

/// Refreshes the planner's statistics after a load, so that scoped searches keep their
/// index plans as the tables grow (SQLite samples each index; PostgreSQL its usual sample).
pub async fn refresh_statistics(tx: &mut Tx) -> DbResult<()> {
    match tx {
        Tx::Sqlite(t) => {
            sqlx::query("PRAGMA analysis_limit = 1000").execute(&mut **t).await?;
            sqlx::query("ANALYZE").execute(&mut **t).await?;
        }
        Tx::Pg(t) => {
            sqlx::query("ANALYZE customer, customer_assignment, account, txn").execute(&mut **t).await?;
        }
    }
    Ok(())
}
