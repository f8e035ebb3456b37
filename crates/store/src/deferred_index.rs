//! Secondary indexes set aside during a large load (R-ETL-2). Inserting a million rows into an
//! index of random keys (the blind indexes) writes a scattered page per row and index, commit
//! after commit; building the index once the rows are in is one sort. A load that will at
//! least double a table drops the table's secondary indexes — every index but the primary and
//! unique keys, which the load itself looks up and conflicts on — recording each definition
//! in the same transaction, and builds them again at the end of the file. A load cut off
//! in between leaves the record, and its rerun builds them.
//!
//! On PostgreSQL the table's foreign keys go the same way: each row's check is a trigger
//! that looks up the parent row (three times the insert's own cost for transactions), while
//! adding the constraint back checks every row in one join. The load resolves every parent
//! id itself, in the same transaction, and adding the key back fails the load if any row
//! had none.

use crate::{DbResult, Tx, exec, on_tx};

/// What a large load sets aside of `table`: (name, the statement that makes it again, the
/// one that drops it).
async fn secondary(tx: &mut Tx, table: &str) -> DbResult<Vec<(String, String, String)>> {
    let sql = match tx {
        Tx::Sqlite(_) => {
            r#"SELECT name, sql, 'DROP INDEX "' || name || '"' FROM sqlite_master
             WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'
             ORDER BY name"#
        }
        Tx::Pg(_) => {
            r#"SELECT indexname::text, indexdef, 'DROP INDEX "' || indexname || '"' FROM pg_indexes
             WHERE schemaname = current_schema() AND tablename = $1::text AND indexdef NOT LIKE 'CREATE UNIQUE%'
             UNION ALL
             SELECT conname::text,
                    'ALTER TABLE ' || $1::text || ' ADD CONSTRAINT "' || conname || '" ' || pg_get_constraintdef(oid),
                    'ALTER TABLE ' || $1::text || ' DROP CONSTRAINT "' || conname || '"'
             FROM pg_constraint WHERE conrelid = to_regclass($1::text) AND contype = 'f'
             ORDER BY 1"#
        }
    };
    on_tx!(tx, c => sqlx::query_as(sql).bind(table).fetch_all(c).await)
}

/// Whether this connection may drop and create `table`'s indexes: always on SQLite; on
/// PostgreSQL only as (a member of) the table's owner, which the application role is not
/// (docs/OPERATIONS.md §1): a load run as the application role keeps its indexes.
pub async fn may_alter(tx: &mut Tx, table: &'static str) -> DbResult<bool> {
    match tx {
        Tx::Sqlite(_) => Ok(true),
        Tx::Pg(t) => {
            let owner: Option<bool> = sqlx::query_scalar(
                "SELECT pg_has_role(current_user, c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass($1)",
            )
            .bind(table)
            .fetch_optional(&mut **t)
            .await?;
            Ok(owner == Some(true))
        }
    }
}

/// Whether `table` holds fewer than `n` rows; counts no further than `n`, so a night's small
/// load does not walk ten million transactions to find out.
pub async fn holds_fewer_than(tx: &mut Tx, table: &'static str, n: u64) -> DbResult<bool> {
    let sql = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {table} LIMIT {n}) t");
    let held: i64 = on_tx!(tx, c => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(c).await)?;
    Ok((held as u64) < n)
}

/// Drops the secondary indexes (and on PostgreSQL the foreign keys) of `table`, recording
/// each; returns how many.
pub async fn set_aside(tx: &mut Tx, table: &'static str) -> DbResult<usize> {
    let indexes = secondary(tx, table).await?;
    for (name, definition, drop) in &indexes {
        exec!(
            tx,
            sqlx::query(
                "INSERT INTO import_deferred_index (name, table_name, definition) VALUES ($1, $2, $3)"
            )
            .bind(name)
            .bind(table)
            .bind(definition)
        )?;
        exec!(tx, sqlx::query(sqlx::AssertSqlSafe(drop.clone())))?;
    }
    Ok(indexes.len())
}

/// How many indexes and keys of `table` are set aside.
pub async fn pending(tx: &mut Tx, table: &'static str) -> DbResult<i64> {
    on_tx!(tx, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM import_deferred_index WHERE table_name = $1")
            .bind(table)
            .fetch_one(c)
            .await
    })
}

/// Makes again every index and key of `table` set aside; returns how many.
pub async fn rebuild(tx: &mut Tx, table: &'static str) -> DbResult<usize> {
    let indexes: Vec<(String, String)> = on_tx!(tx, c => {
        sqlx::query_as("SELECT name, definition FROM import_deferred_index WHERE table_name = $1 ORDER BY name")
            .bind(table)
            .fetch_all(c)
            .await
    })?;
    for (name, definition) in &indexes {
        exec!(tx, sqlx::query(sqlx::AssertSqlSafe(definition.clone())))?;
        exec!(tx, sqlx::query("DELETE FROM import_deferred_index WHERE name = $1").bind(name))?;
    }
    Ok(indexes.len())
}
