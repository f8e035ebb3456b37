//! The one guarded step of every workflow in storage: a request moves from the state it was
//! read in only if nobody has moved it since, so of two concurrent decisions exactly one wins
//! and a stale one changes nothing.

use pcis_domain::policy::StepGrant;

use crate::db::{Arg, SqlBuilder};
use crate::{DbResult, Tx, bind_args, exec};

/// Where a request is, as it was read.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub status: &'a str,
    pub version: i64,
}

/// Moves the request the policy's `grant` names, in `table`, from `at` to `to`, setting
/// `columns` beside it, in one UPDATE guarded by status and version; false when someone
/// moved it first. `table` and the column names are the callers' constants, never input.
pub async fn advance(
    tx: &mut Tx,
    table: &'static str,
    grant: &StepGrant,
    at: At<'_>,
    to: &str,
    columns: &[(&'static str, Arg)],
) -> DbResult<bool> {
    let mut q = SqlBuilder::new(&format!("UPDATE {table} SET version = version + 1, status = "));
    q.bind(Arg::Text(to.to_owned()));
    for (column, value) in columns {
        q.push(&format!(", {column} = ")).bind(value.clone());
    }
    q.push(" WHERE id = ").bind(Arg::I64(grant.request()));
    q.push(" AND status = ").bind(Arg::Text(at.status.to_owned()));
    q.push(" AND version = ").bind(Arg::I64(at.version));
    let n = exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))?;
    Ok(n == 1)
}

/// The nightly escalation of every workflow: requests of `table` still in one of `waiting`
/// after their due date (`due_on` before `today`) are marked overdue at `now` and, with
/// `to`, moved there (the system's step). Each is marked once; returns how many.
pub async fn escalate_overdue(
    tx: &mut Tx,
    table: &'static str,
    waiting: &[&str],
    to: Option<&str>,
    today: &str,
    now: time::OffsetDateTime,
) -> DbResult<u64> {
    let mut q = SqlBuilder::new(&format!(
        "UPDATE {table} SET version = version + 1, overdue = TRUE, escalated_us = "
    ));
    q.bind(Arg::I64(crate::micros(now)));
    if let Some(to) = to {
        q.push(", status = ").bind(Arg::Text(to.to_owned()));
    }
    q.push(" WHERE overdue = FALSE AND due_on < ").bind(Arg::Text(today.to_owned()));
    q.push(" AND status").in_list(waiting.iter().map(|s| Arg::Text((*s).to_owned())));
    exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))
}
