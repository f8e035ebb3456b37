//! Every column that holds a value sealed at rest (R-PRV-3), for key rotation: rows sealed
//! under another key version than the active one are found in id order and rewritten one
//! batch at a time, each only if it still holds the value that was read, so a concurrent
//! change by the running application is never overwritten.

use crate::{DbResult, Tx, exec, on_tx};

/// A sealed column: its table, its name, and the field the values are sealed for (the
/// associated data of the cipher).
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    pub table: &'static str,
    pub column: &'static str,
    pub field: &'static str,
}

const fn col(table: &'static str, column: &'static str, field: &'static str) -> SealedColumn {
    SealedColumn { table, column, field }
}

pub const SEALED_COLUMNS: [SealedColumn; 8] = [
    col("customer", "id_number_sealed", "id_number"),
    col("customer", "mobile_sealed", "mobile"),
    col("customer", "phone_sealed", "phone"),
    col("customer", "email_sealed", "email"),
    col("customer", "address_sealed", "address"),
    col("customer", "settlement_sealed", "account_no"),
    col("account", "account_sealed", "account_no"),
    col("customer_proposal", "payload_sealed", "proposal"),
];

/// Rows whose value is not sealed under the key version `prefix` (its 4-byte big-endian
/// form, as sealed values begin), after `after` in id order.
pub async fn stale(
    tx: &mut Tx,
    c: SealedColumn,
    prefix: &[u8],
    after: i64,
    limit: i64,
) -> DbResult<Vec<(i64, Vec<u8>)>> {
    let sql = format!(
        "SELECT id, {col} FROM {table} WHERE id > $1 AND {col} IS NOT NULL AND substr({col}, 1, 4) <> $2
         ORDER BY id LIMIT {limit}",
        col = c.column,
        table = c.table
    );
    on_tx!(tx, conn => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(after).bind(prefix).fetch_all(conn).await
    })
}

/// How many values are not sealed under the key version `prefix`.
pub async fn count_stale(tx: &mut Tx, c: SealedColumn, prefix: &[u8]) -> DbResult<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM {table} WHERE {col} IS NOT NULL AND substr({col}, 1, 4) <> $1",
        col = c.column,
        table = c.table
    );
    on_tx!(tx, conn => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(prefix).fetch_one(conn).await)
}

/// Replaces one sealed value if it is still `old`; false if it changed meanwhile.
pub async fn replace(tx: &mut Tx, c: SealedColumn, id: i64, old: &[u8], new: &[u8]) -> DbResult<bool> {
    let sql = format!(
        "UPDATE {table} SET {col} = $1 WHERE id = $2 AND {col} = $3",
        col = c.column,
        table = c.table
    );
    let n = exec!(tx, sqlx::query(sqlx::AssertSqlSafe(sql)).bind(new).bind(id).bind(old))?;
    Ok(n == 1)
}
