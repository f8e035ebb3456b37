//! The bulk paths (the daily load, the suspicious list): rows go to storage a few hundred at
//! a time instead of a statement per row.
//!
//! - SQLite: one multi-row `INSERT … VALUES (…), (…)` per chunk, with anonymous `?`
//!   placeholders. sqlx asks SQLite for each placeholder's name and SQLite finds a numbered
//!   name (`$n`) by walking the statement's list, so binding n numbered values costs n² (88%
//!   of a load's time in `perf` once); anonymous ones have no name to look up.
//! - PostgreSQL: `COPY` into a temporary table of the target's columns, then one
//!   `INSERT … SELECT` from it with the same conflict clause: no statement to parse and plan
//!   per chunk, no parameters at all.

use std::io::Write;

use crate::db::Arg;
use crate::{DbResult, Tx, bind_args, exec, on_tx};

/// Rows per multi-row statement on SQLite, and keys per `IN` list, at most. A quarter of a
/// load's batch, so that full batches reuse one prepared statement per table; a statement of
/// any other size is prepared for its one use and not cached (a cache of every size would
/// hold hundreds of statements of thousands of placeholders).
const ROWS: usize = 250;
/// Values per SQLite statement, under its limit of 32,766.
const VALUES: usize = 30_000;

/// Rows for the named columns of a table, flattened row after row.
pub struct Rows<'a> {
    table: &'a str,
    columns: &'a [&'a str],
    args: Vec<Arg>,
}

impl<'a> Rows<'a> {
    pub fn new(table: &'a str, columns: &'a [&'a str]) -> Rows<'a> {
        Rows { table, columns, args: Vec::new() }
    }

    /// Appends one row: a value per column.
    pub fn push(&mut self, row: impl IntoIterator<Item = Arg>) {
        let before = self.args.len();
        self.args.extend(row);
        debug_assert_eq!(self.args.len() - before, self.columns.len(), "a row of the wrong width");
    }

    fn head(&self) -> String {
        format!("INSERT INTO {} ({})", self.table, self.columns.join(", "))
    }

    /// SQLite's statements for these rows: `INSERT … VALUES (?, …), … tail` per chunk, and
    /// whether the chunk is of the usual size (worth keeping prepared).
    fn values_statements(&self, tail: &str) -> Vec<(String, &[Arg], bool)> {
        let width = self.columns.len();
        let per = ROWS.min(VALUES / width).max(1) * width;
        let head = self.head();
        self.args
            .chunks(per)
            .map(|chunk| {
                let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 3 + 16);
                sql.push_str(&head);
                sql.push_str(" VALUES ");
                for i in 0..chunk.len() {
                    sql.push_str(match (i % width, i) {
                        (_, 0) => "(?",
                        (0, _) => "), (?",
                        _ => ", ?",
                    });
                }
                sql.push_str(") ");
                sql.push_str(tail);
                (sql, chunk, chunk.len() == per)
            })
            .collect()
    }

    /// PostgreSQL: copies the rows into the connection's staging table for the target (a
    /// temporary table of its columns, made once per connection) and returns the statement
    /// that inserts them from there, `tail` appended, and the one that empties it again.
    async fn stage(&self, c: &mut sqlx::PgConnection, tail: &str) -> DbResult<(String, String)> {
        let columns = self.columns.join(", ");
        let stage = format!("pcis_stage_{}", self.table);
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('pg_temp.' || $1) IS NOT NULL")
            .bind(&stage)
            .fetch_one(&mut *c)
            .await?;
        if !exists {
            let create = format!(
                "CREATE TEMPORARY TABLE {stage} AS SELECT {columns} FROM {} WITH NO DATA",
                self.table
            );
            sqlx::query(sqlx::AssertSqlSafe(create)).persistent(false).execute(&mut *c).await?;
        }
        let mut copy = c.copy_in_raw(&format!("COPY {stage} ({columns}) FROM STDIN")).await?;
        copy.send(copy_text(&self.args, self.columns.len())).await?;
        copy.finish().await?;
        Ok((format!("{} SELECT {columns} FROM {stage} {tail}", self.head()), format!("TRUNCATE {stage}")))
    }

    /// Inserts every row, `tail` (a conflict clause) appended; returns the rows affected.
    pub async fn execute(&self, tx: &mut Tx, tail: &str) -> DbResult<u64> {
        if self.args.is_empty() {
            return Ok(0);
        }
        match tx {
            Tx::Sqlite(t) => {
                let mut affected = 0;
                for (sql, args, usual) in self.values_statements(tail) {
                    let q = bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(usual), args);
                    affected += q.execute(&mut **t).await?.rows_affected();
                }
                Ok(affected)
            }
            Tx::Pg(t) => {
                let (insert, empty) = self.stage(t, tail).await?;
                let affected = sqlx::query(sqlx::AssertSqlSafe(insert)).execute(&mut **t).await?;
                sqlx::query(sqlx::AssertSqlSafe(empty)).execute(&mut **t).await?;
                Ok(affected.rows_affected())
            }
        }
    }

    /// Inserts every row, `tail` (a conflict clause and `RETURNING …`) appended; returns
    /// what came back.
    pub async fn fetch<R>(&self, tx: &mut Tx, tail: &str) -> DbResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        if self.args.is_empty() {
            return Ok(Vec::new());
        }
        match tx {
            Tx::Sqlite(t) => {
                let mut out = Vec::new();
                for (sql, args, usual) in self.values_statements(tail) {
                    let q = bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql)).persistent(usual), args);
                    out.extend(q.fetch_all(&mut **t).await?);
                }
                Ok(out)
            }
            Tx::Pg(t) => {
                let (insert, empty) = self.stage(t, tail).await?;
                let out = sqlx::query_as(sqlx::AssertSqlSafe(insert)).fetch_all(&mut **t).await?;
                sqlx::query(sqlx::AssertSqlSafe(empty)).execute(&mut **t).await?;
                Ok(out)
            }
        }
    }
}

/// Rows in PostgreSQL's `COPY` text format: tab between values, newline after a row, `\N`
/// for NULL, backslash escapes in text, bytea as `\x` and hex.
fn copy_text(args: &[Arg], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(args.len() * 16);
    for (i, arg) in args.iter().enumerate() {
        if i % width != 0 {
            out.push(b'\t');
        }
        match arg {
            Arg::I64(v) | Arg::OptI64(Some(v)) => {
                let _ = write!(out, "{v}");
            }
            Arg::Text(s) | Arg::OptText(Some(s)) => {
                for b in s.bytes() {
                    match b {
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        _ => out.push(b),
                    }
                }
            }
            Arg::Bytes(Some(b)) => {
                out.extend_from_slice(b"\\\\x");
                for byte in b {
                    let _ = write!(out, "{byte:02x}");
                }
            }
            Arg::Bool(b) => out.push(if *b { b't' } else { b'f' }),
            Arg::OptI64(None) | Arg::OptText(None) | Arg::Bytes(None) => out.extend_from_slice(b"\\N"),
        }
        if i % width == width - 1 {
            out.push(b'\n');
        }
    }
    out
}

/// Runs `select IN (keys) tail` over chunks of keys and collects the rows.
pub async fn rows_for_keys<R>(tx: &mut Tx, select: &str, keys: &[Arg], tail: &str) -> DbResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(ROWS) {
        let sql = in_list(numbered(tx), select, chunk.len(), tail);
        let usual = chunk.len() == ROWS;
        let rows: Vec<R> = on_tx!(tx, c => {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).persistent(usual), chunk).fetch_all(c).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Runs `head IN (keys) tail` over chunks of keys; returns the rows affected.
pub async fn execute_for_keys(tx: &mut Tx, head: &str, keys: &[Arg], tail: &str) -> DbResult<u64> {
    let mut affected = 0;
    for chunk in keys.chunks(ROWS) {
        let sql = in_list(numbered(tx), head, chunk.len(), tail);
        let usual = chunk.len() == ROWS;
        affected +=
            exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())).persistent(usual), chunk))?;
    }
    Ok(affected)
}

/// Whether the backend takes `$n` (PostgreSQL) rather than `?` (SQLite).
fn numbered(tx: &Tx) -> bool {
    matches!(tx, Tx::Pg(_))
}

fn in_list(numbered: bool, head: &str, n: usize, tail: &str) -> String {
    let mut sql = format!("{head} IN (");
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        push_mark(&mut sql, numbered, i + 1);
    }
    sql.push_str(") ");
    sql.push_str(tail);
    sql
}

fn push_mark(sql: &mut String, numbered: bool, n: usize) {
    if numbered {
        sql.push('$');
        sql.push_str(&n.to_string());
    } else {
        sql.push('?');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_gets_values_lists_with_anonymous_placeholders() {
        let mut rows = Rows::new("t", &["a", "b"]);
        for n in 0..3 {
            rows.push([Arg::I64(n), Arg::Text("a".into())]);
        }
        let sql: Vec<String> =
            rows.values_statements("ON CONFLICT DO NOTHING").into_iter().map(|(s, ..)| s).collect();
        assert_eq!(sql, ["INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT DO NOTHING"]);
    }

    #[test]
    fn wide_rows_are_split_under_the_parameter_limit() {
        let columns = ["c"; 40];
        let mut rows = Rows::new("t", &columns);
        for _ in 0..1500 {
            rows.push((0..40).map(Arg::I64));
        }
        let sizes: Vec<(usize, bool)> =
            rows.values_statements("").iter().map(|(_, a, usual)| (a.len() / 40, *usual)).collect();
        assert_eq!(sizes, [(250, true); 6]);
        let columns = ["c"; 200];
        let mut rows = Rows::new("t", &columns);
        for _ in 0..160 {
            rows.push((0..200).map(Arg::I64));
        }
        let sizes: Vec<(usize, bool)> =
            rows.values_statements("").iter().map(|(_, a, usual)| (a.len() / 200, *usual)).collect();
        assert_eq!(sizes, [(150, true), (10, false)]);
        assert_eq!(in_list(true, "SELECT 1 WHERE a", 3, "AND b"), "SELECT 1 WHERE a IN ($1, $2, $3) AND b");
        assert_eq!(in_list(false, "SELECT 1 WHERE a", 2, ""), "SELECT 1 WHERE a IN (?, ?) ");
    }

    #[test]
    fn copy_text_escapes_what_the_format_reserves() {
        let args = [
            Arg::I64(-5),
            Arg::Text("a\tb\\c\nd".into()),
            Arg::OptText(None),
            Arg::Bytes(Some(vec![0, 255])),
            Arg::Bool(true),
            Arg::OptI64(Some(7)),
        ];
        let text = String::from_utf8(copy_text(&args, 3)).unwrap();
        assert_eq!(text, "-5\ta\\tb\\\\c\\nd\t\\N\n\\\\x00ff\tt\t7\n");
    }
}
