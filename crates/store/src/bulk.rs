//! Multi-row statements for the bulk paths (the daily load, the suspicious list): one
//! `VALUES (…), (…), …` list or `IN (…)` list per few hundred rows instead of a statement per
//! row. SQLite gets anonymous `?` placeholders: sqlx asks SQLite for each placeholder's name
//! and SQLite finds a numbered name (`$n`) by walking the statement's list, so binding n
//! numbered values costs n² (88% of a load's time in `perf` once); anonymous ones have no
//! name to look up. PostgreSQL gets its `$n`.

use crate::db::Arg;
use crate::{DbResult, Tx, bind_args, exec, on_tx};

/// Rows per multi-row statement, at most.
const ROWS: usize = 1000;
/// Values per statement, under both backends' limits (SQLite 32,766; PostgreSQL 65,535).
const VALUES: usize = 30_000;

/// Rows of `width` values each, flattened row after row.
pub struct Rows {
    width: usize,
    args: Vec<Arg>,
}

impl Rows {
    pub fn new(width: usize) -> Rows {
        Rows { width, args: Vec::new() }
    }

    /// Appends one row; it must have `width` values.
    pub fn push(&mut self, row: impl IntoIterator<Item = Arg>) {
        let before = self.args.len();
        self.args.extend(row);
        debug_assert_eq!(self.args.len() - before, self.width, "a row of the wrong width");
    }

    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The statements that carry these rows: `head VALUES (…), … tail` per chunk.
    fn statements<'a>(
        &'a self,
        numbered: bool,
        head: &'a str,
        tail: &'a str,
    ) -> impl Iterator<Item = (String, &'a [Arg])> + 'a {
        let width = self.width;
        let per = ROWS.min(VALUES / width).max(1) * width;
        self.args.chunks(per).map(move |chunk| {
            let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * 6);
            sql.push_str(head);
            sql.push_str(" VALUES ");
            for i in 0..chunk.len() {
                sql.push_str(match (i % width, i) {
                    (_, 0) => "(",
                    (0, _) => "), (",
                    _ => ", ",
                });
                push_mark(&mut sql, numbered, i + 1);
            }
            sql.push_str(") ");
            sql.push_str(tail);
            (sql, chunk)
        })
    }

    /// Runs `head VALUES … tail` over every row; returns the rows affected.
    pub async fn execute(&self, tx: &mut Tx, head: &str, tail: &str) -> DbResult<u64> {
        let mut affected = 0;
        for (sql, args) in self.statements(numbered(tx), head, tail).collect::<Vec<_>>() {
            affected += exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), args))?;
        }
        Ok(affected)
    }

    /// Runs `head VALUES … tail RETURNING …` over every row; returns what came back.
    pub async fn fetch<R>(&self, tx: &mut Tx, head: &str, tail: &str) -> DbResult<Vec<R>>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let mut out = Vec::new();
        for (sql, args) in self.statements(numbered(tx), head, tail).collect::<Vec<_>>() {
            let rows: Vec<R> = on_tx!(tx, c => {
                bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), args).fetch_all(c).await
            })?;
            out.extend(rows);
        }
        Ok(out)
    }
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
        let rows: Vec<R> = on_tx!(tx, c => {
            bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())), chunk).fetch_all(c).await
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
        affected += exec!(tx, bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.clone())), chunk))?;
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
    fn rows_become_values_lists_with_each_backends_placeholders() {
        let mut rows = Rows::new(2);
        for n in 0..3 {
            rows.push([Arg::I64(n), Arg::Text("a".into())]);
        }
        let sql: Vec<String> = rows.statements(false, "INSERT INTO t (a, b)", "").map(|(s, _)| s).collect();
        assert_eq!(sql, ["INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) "]);
        let sql: Vec<String> =
            rows.statements(true, "INSERT INTO t (a, b)", "ON CONFLICT DO NOTHING").map(|(s, _)| s).collect();
        assert_eq!(sql, ["INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6) ON CONFLICT DO NOTHING"]);
    }

    #[test]
    fn wide_rows_are_split_under_the_parameter_limit() {
        let mut rows = Rows::new(40);
        for _ in 0..1500 {
            rows.push((0..40).map(Arg::I64));
        }
        let sizes: Vec<usize> = rows.statements(false, "INSERT", "").map(|(_, a)| a.len() / 40).collect();
        assert_eq!(sizes, [750, 750]);
        assert_eq!(in_list(true, "SELECT 1 WHERE a", 3, "AND b"), "SELECT 1 WHERE a IN ($1, $2, $3) AND b");
    }
}
