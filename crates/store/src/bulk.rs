//! The bulk paths (the daily load, the suspicious list): rows go to storage a few hundred at
//! a time instead of a statement per row.
//!
//! - SQLite: one multi-row `INSERT … VALUES (…), (…)` per chunk, with anonymous `?`
//!   placeholders. sqlx asks SQLite for each placeholder's name and SQLite finds a numbered
//!   name (`$n`) by walking the statement's list, so binding n numbered values costs n² (88%
//!   of a load's time in `perf` once); anonymous ones have no name to look up.
//! - PostgreSQL: one `INSERT … SELECT * FROM unnest($1::bigint[], $2::text[], …)` per
//!   batch, a column of values per array parameter: one statement of the same text whatever
//!   the batch's size (prepared once), sent in one write. `COPY` was tried first; sqlx sends
//!   its data and its end as two writes, and over TCP the second waited on the server's
//!   delayed acknowledgement (40 ms per chunk, half of a customer file's time).

use crate::db::Arg;
use crate::{DbError, DbResult, Tx, bind_args};

/// Rows per multi-row statement on SQLite, and keys per `IN` list, at most. A load's batch
/// divides into chunks of this size, so they reuse one prepared statement per table; a
/// statement of any other size is prepared for its one use and not cached (a cache of every
/// size would hold hundreds of statements of thousands of placeholders).
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

    /// PostgreSQL's statement for these rows, `tail` appended, and its array parameters.
    fn unnest_statement(&self, tail: &str) -> DbResult<(String, Vec<Column<'_>>)> {
        let width = self.columns.len();
        let columns = (0..width)
            .map(|c| Column::of(self.columns[c], self.args.iter().skip(c).step_by(width)))
            .collect::<DbResult<Vec<_>>>()?;
        let arrays: Vec<String> =
            columns.iter().enumerate().map(|(i, c)| format!("${}::{}", i + 1, c.cast())).collect();
        Ok((format!("{} SELECT * FROM unnest({}) {tail}", self.head(), arrays.join(", ")), columns))
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
                let (sql, columns) = self.unnest_statement(tail)?;
                let q = columns.into_iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, c| c.bind(q));
                Ok(q.execute(&mut **t).await?.rows_affected())
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
                let (sql, columns) = self.unnest_statement(tail)?;
                let q =
                    columns.into_iter().fold(sqlx::query_as(sqlx::AssertSqlSafe(sql)), |q, c| c.bind_as(q));
                q.fetch_all(&mut **t).await
            }
        }
    }
}

/// One column of rows as a PostgreSQL array: the values of one type, `None` for NULL.
enum Column<'a> {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<&'a str>>),
    Bytes(Vec<Option<&'a [u8]>>),
    Bool(Vec<bool>),
}

impl<'a> Column<'a> {
    /// The column's values, typed by the first; a value of another type is an error.
    fn of(name: &str, values: impl Iterator<Item = &'a Arg>) -> DbResult<Column<'a>> {
        let mut values = values.peekable();
        let mut column = match values.peek() {
            Some(Arg::I64(_) | Arg::OptI64(_)) | None => Column::Int(Vec::new()),
            Some(Arg::Text(_) | Arg::OptText(_)) => Column::Text(Vec::new()),
            Some(Arg::Bytes(_)) => Column::Bytes(Vec::new()),
            Some(Arg::Bool(_)) => Column::Bool(Vec::new()),
        };
        for value in values {
            match (&mut column, value) {
                (Column::Int(v), Arg::I64(i)) => v.push(Some(*i)),
                (Column::Int(v), Arg::OptI64(i)) => v.push(*i),
                (Column::Text(v), Arg::Text(s)) => v.push(Some(s)),
                (Column::Text(v), Arg::OptText(s)) => v.push(s.as_deref()),
                (Column::Bytes(v), Arg::Bytes(b)) => v.push(b.as_deref()),
                (Column::Bool(v), Arg::Bool(b)) => v.push(*b),
                _ => return Err(DbError::Encode(format!("column {name} holds values of two types").into())),
            }
        }
        Ok(column)
    }

    fn cast(&self) -> &'static str {
        match self {
            Column::Int(_) => "bigint[]",
            Column::Text(_) => "text[]",
            Column::Bytes(_) => "bytea[]",
            Column::Bool(_) => "boolean[]",
        }
    }

    fn bind(self, q: PgQuery<'a>) -> PgQuery<'a> {
        match self {
            Column::Int(v) => q.bind(v),
            Column::Text(v) => q.bind(v),
            Column::Bytes(v) => q.bind(v),
            Column::Bool(v) => q.bind(v),
        }
    }

    fn bind_as<R>(self, q: PgQueryAs<'a, R>) -> PgQueryAs<'a, R> {
        match self {
            Column::Int(v) => q.bind(v),
            Column::Text(v) => q.bind(v),
            Column::Bytes(v) => q.bind(v),
            Column::Bool(v) => q.bind(v),
        }
    }
}

type PgQuery<'a> = sqlx::query::Query<'a, sqlx::Postgres, sqlx::postgres::PgArguments>;
type PgQueryAs<'a, R> = sqlx::query::QueryAs<'a, sqlx::Postgres, R, sqlx::postgres::PgArguments>;

/// Runs `select IN (keys) tail` and collects the rows: on PostgreSQL one statement with the
/// keys as one array (`= ANY($1)`), on SQLite one per chunk of keys.
pub async fn rows_for_keys<R>(tx: &mut Tx, select: &str, keys: &[Arg], tail: &str) -> DbResult<Vec<R>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    match tx {
        Tx::Pg(t) => {
            let q = sqlx::query_as(sqlx::AssertSqlSafe(format!("{select} = ANY($1) {tail}")));
            Column::of("key", keys.iter())?.bind_as(q).fetch_all(&mut **t).await
        }
        Tx::Sqlite(t) => {
            let mut out = Vec::with_capacity(keys.len());
            for chunk in keys.chunks(ROWS) {
                let q = sqlx::query_as(sqlx::AssertSqlSafe(in_list(select, chunk.len(), tail)));
                out.extend(bind_args!(q.persistent(chunk.len() == ROWS), chunk).fetch_all(&mut **t).await?);
            }
            Ok(out)
        }
    }
}

/// Runs `head IN (keys) tail` (one statement, or one per chunk, as above); returns the rows
/// affected.
pub async fn execute_for_keys(tx: &mut Tx, head: &str, keys: &[Arg], tail: &str) -> DbResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    match tx {
        Tx::Pg(t) => {
            let q = sqlx::query(sqlx::AssertSqlSafe(format!("{head} = ANY($1) {tail}")));
            Ok(Column::of("key", keys.iter())?.bind(q).execute(&mut **t).await?.rows_affected())
        }
        Tx::Sqlite(t) => {
            let mut affected = 0;
            for chunk in keys.chunks(ROWS) {
                let q = sqlx::query(sqlx::AssertSqlSafe(in_list(head, chunk.len(), tail)));
                affected += bind_args!(q.persistent(chunk.len() == ROWS), chunk)
                    .execute(&mut **t)
                    .await?
                    .rows_affected();
            }
            Ok(affected)
        }
    }
}

/// `head IN (?, …) tail` for `n` keys.
fn in_list(head: &str, n: usize, tail: &str) -> String {
    let marks = vec!["?"; n].join(", ");
    format!("{head} IN ({marks}) {tail}")
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
        assert_eq!(in_list("SELECT 1 WHERE a", 2, "AND b"), "SELECT 1 WHERE a IN (?, ?) AND b");
    }

    #[test]
    fn postgres_gets_a_column_per_array_whatever_the_row_count() {
        let mut rows = Rows::new("t", &["a", "b", "c", "d"]);
        for n in 0..3 {
            rows.push([Arg::I64(n), Arg::OptText(None), Arg::Bytes(Some(vec![1])), Arg::Bool(true)]);
        }
        let (sql, columns) = rows.unnest_statement("ON CONFLICT DO NOTHING").unwrap();
        assert_eq!(
            sql,
            "INSERT INTO t (a, b, c, d) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], \
             $4::boolean[]) ON CONFLICT DO NOTHING"
        );
        assert!(matches!(&columns[1], Column::Text(v) if v == &[None, None, None]));
        let mut mixed = Rows::new("t", &["a"]);
        mixed.push([Arg::I64(1)]);
        mixed.push([Arg::Text("1".into())]);
        let err = mixed.unnest_statement("").err().unwrap();
        assert!(err.to_string().contains("column a holds values of two types"), "{err}");
    }
}
