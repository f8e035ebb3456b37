//! The one guarded step of every workflow in storage: a request moves from the state it was
//! read in only if nobody has moved it since, so of two concurrent decisions exactly one wins
//! and a stale one changes nothing.

use crate::db::{Arg, SqlBuilder};
use crate::{DbResult, Tx, bind_args, exec};

/// Where a request is, as it was read.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub id: i64,
    pub status: &'a str,
    pub version: i64,
}

/// Moves the request of `table` at `at` to `to`, setting `columns` beside it, in one UPDATE
/// guarded by status and version; false when someone moved it first. `table` and the
/// column names are the callers' constants, never input.
pub async fn advance(
    tx: &mut Tx,
    table: &'static str,
    at: At<'_>,
    to: &str,
    columns: &[(&'static str, Arg)],
) -> DbResult<bool> {
    let mut q = SqlBuilder::new(&format!("UPDATE {table} SET version = version + 1, status = "));
    q.bind(Arg::Text(to.to_owned()));
    for (column, value) in columns {
        q.push(&format!(", {column} = ")).bind(value.clone());
    }
    q.push(" WHERE id = ").bind(Arg::I64(at.id));
    q.push(" AND status = ").bind(Arg::Text(at.status.to_owned()));
    q.push(" AND version = ").bind(Arg::I64(at.version));
    let n = exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(q.sql.clone())), &q.args))?;
    Ok(n == 1)
}
