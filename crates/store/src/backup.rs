//! What `pcis backup` and `pcis restore` ask of storage (R-OPS-1): a consistent copy of a
//! live SQLite database, an exported PostgreSQL snapshot for `pg_dump`, what a database holds
//! (tables and their rows, migrations, the audit chain's head, the data-key versions its
//! sealed values name) and whether a restore target is empty.
//!
//! Invariants: nothing here changes the database being backed up; nothing reads or returns
//! key material (the audit key's check value is an HMAC of a constant, not the key); a
//! database password leaves only as the `PGPASSWORD` of a child process, never its arguments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection, SqlitePool};

use crate::sealed::SEALED_COLUMNS;
use crate::{Db, DbError, DbResult, Tx, on_tx};

/// What a database holds, as a backup's manifest records it and a restore checks it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Versions of the migrations applied (successfully).
    pub migrations: Vec<i64>,
    /// Every table of the schema and its rows.
    pub tables: BTreeMap<String, i64>,
    /// `audit_chain_head.seq`: the last audit record's number.
    pub audit_head_seq: Option<i64>,
    /// The audit key's check value, where the chain stores one (migration 0022).
    pub audit_key_check: Option<String>,
    /// The data-key versions the sealed values are under (their first 4 bytes).
    pub data_key_versions: BTreeSet<u32>,
}

/// Reads what the transaction's database holds. On PostgreSQL run it in the snapshot
/// `pg_dump` reads ([`PgSnapshot`]), so the counts are those of the dump. `step` is told each
/// table as it is counted, for a progress display.
pub async fn contents(tx: &mut Tx, mut step: impl FnMut(&str)) -> DbResult<Contents> {
    let names: Vec<String> =
        match tx {
            Tx::Sqlite(t) => sqlx::query_scalar(
                r"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'
                  ORDER BY name",
            )
            .fetch_all(&mut **t)
            .await?,
            Tx::Pg(t) => {
                sqlx::query_scalar(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                )
                .fetch_all(&mut **t)
                .await?
            }
        };
    let mut out = Contents::default();
    for name in names {
        step(&name);
        let sql = format!("SELECT COUNT(*) FROM {}", quote(&name));
        let n: i64 = on_tx!(tx, c => sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_one(c).await)?;
        out.tables.insert(name, n);
    }
    if out.tables.contains_key("_sqlx_migrations") {
        out.migrations = on_tx!(tx, c => {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(c).await
        })?;
    }
    if out.tables.contains_key("audit_chain_head") {
        out.audit_head_seq = on_tx!(tx, c => {
            sqlx::query_scalar("SELECT seq FROM audit_chain_head WHERE id = 1").fetch_optional(c).await
        })?;
        if column_exists(tx, "audit_chain_head", "key_check").await? {
            out.audit_key_check = on_tx!(tx, c => {
                sqlx::query_scalar("SELECT key_check FROM audit_chain_head WHERE id = 1").fetch_optional(c).await
            })?
            .flatten();
        }
    }
    for c in SEALED_COLUMNS {
        if !out.tables.contains_key(c.table) || !column_exists(tx, c.table, c.column).await? {
            continue;
        }
        step(&format!("{}.{}", c.table, c.column));
        let sql = format!(
            "SELECT DISTINCT substr({col}, 1, 4) FROM {table} WHERE {col} IS NOT NULL",
            col = c.column,
            table = c.table
        );
        let prefixes: Vec<Vec<u8>> =
            on_tx!(tx, conn => sqlx::query_scalar(AssertSqlSafe(sql.clone())).fetch_all(conn).await)?;
        out.data_key_versions.extend(
            prefixes.iter().filter_map(|p| <[u8; 4]>::try_from(p.as_slice()).ok()).map(u32::from_be_bytes),
        );
    }
    Ok(out)
}

async fn column_exists(tx: &mut Tx, table: &str, column: &str) -> DbResult<bool> {
    let n: i64 = match tx {
        Tx::Sqlite(t) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2")
                .bind(table)
                .bind(column)
                .fetch_one(&mut **t)
                .await?
        }
        Tx::Pg(t) => {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
            )
            .bind(table)
            .bind(column)
            .fetch_one(&mut **t)
            .await?
        }
    };
    Ok(n > 0)
}

/// An identifier quoted for either backend.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The file of a `sqlite:` URL (an in-memory database has none to back up or restore into).
pub fn sqlite_path(url: &str) -> DbResult<PathBuf> {
    let options = SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename();
    if path.as_os_str().is_empty() || path == Path::new(":memory:") || url.contains("mode=memory") {
        return Err(DbError::Configuration("an in-memory SQLite database has no file".into()));
    }
    Ok(path.to_owned())
}

/// A connection to an existing SQLite file that changes nothing on opening (no journal mode,
/// no file created).
async fn open_sqlite(path: &Path) -> DbResult<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    SqliteConnection::connect_with(&options).await
}

/// Copies a live SQLite database into `out`, an empty file (made owner-only by the caller):
/// `VACUUM INTO` reads one snapshot, so writers carry on (WAL) and the copy is consistent.
pub async fn sqlite_copy(source: &Path, out: &Path) -> DbResult<()> {
    let Some(out) = out.to_str() else {
        return Err(DbError::Configuration("the backup path must be valid UTF-8".into()));
    };
    let mut conn = open_sqlite(source).await?;
    sqlx::query("VACUUM INTO $1").bind(out).execute(&mut conn).await?;
    conn.close().await
}

/// What a SQLite file holds, read without changing it (a backup, or a file about to be
/// moved into place).
pub async fn sqlite_contents(path: &Path, step: impl FnMut(&str)) -> DbResult<Contents> {
    let options = SqliteConnectOptions::new().filename(path).read_only(true).immutable(true);
    let pool = sqlx::pool::PoolOptions::new().max_connections(1).connect_with(options).await?;
    let contents = contents_of(&pool, step).await;
    pool.close().await;
    contents
}

async fn contents_of(pool: &SqlitePool, step: impl FnMut(&str)) -> DbResult<Contents> {
    let mut tx = Tx::Sqlite(pool.begin().await?);
    contents(&mut tx, step).await
}

/// How many schema objects (tables, indexes, views, triggers) an existing SQLite file holds.
pub async fn sqlite_objects(path: &Path) -> DbResult<i64> {
    let mut conn = open_sqlite(path).await?;
    let n =
        sqlx::query_scalar(r"SELECT COUNT(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(n)
}

/// The PostgreSQL schema a URL's connections use (the first existing one of its
/// `search_path`; `None` if none exists) and how many relations and functions it holds.
pub async fn pg_schema_objects(url: &str) -> DbResult<(Option<String>, i64)> {
    let mut conn = PgConnection::connect_with(&PgConnectOptions::from_str(url)?).await?;
    let row = sqlx::query_as(
        "SELECT current_schema()::text,
                (SELECT COUNT(*) FROM pg_class WHERE relnamespace = n.oid)
              + (SELECT COUNT(*) FROM pg_proc WHERE pronamespace = n.oid)
         FROM (SELECT current_schema()) s LEFT JOIN pg_namespace n ON n.nspname = s.current_schema",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(row)
}

/// A PostgreSQL snapshot held open for `pg_dump --snapshot`: a read-only repeatable-read
/// transaction, so [`contents`] run in it counts exactly what the dump holds, while the
/// servers go on writing.
pub struct PgSnapshot {
    pub tx: Tx,
    /// The id `pg_dump --snapshot` takes.
    pub id: String,
    /// The schema of the connection's `search_path` (what is backed up).
    pub schema: String,
}

impl PgSnapshot {
    pub async fn export(db: &Db) -> DbResult<PgSnapshot> {
        let Db::Pg(pool) = db else {
            return Err(DbError::Configuration("a snapshot for pg_dump needs PostgreSQL".into()));
        };
        let mut t = pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()").fetch_one(&mut *t).await?;
        let schema: Option<String> =
            sqlx::query_scalar("SELECT current_schema()::text").fetch_one(&mut *t).await?;
        let Some(schema) = schema else {
            return Err(DbError::Configuration("no schema of the connection's search_path exists".into()));
        };
        Ok(PgSnapshot { tx: Tx::Pg(t), id, schema })
    }

    /// Ends the snapshot (after `pg_dump` has finished with it).
    pub async fn release(self) -> DbResult<()> {
        self.tx.commit().await
    }
}

/// The libpq environment (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`, `PGSSLMODE`,
/// `PGPASSWORD`) naming the database of a `postgres://` URL, for `pg_dump`, `pg_restore`
/// and `psql`: the password goes into the child's environment, not its arguments, and the
/// URL's sqlx-only parameters (`options[search_path]`) are left out (the schema is passed
/// explicitly).
pub fn libpq_env(url: &str) -> DbResult<Vec<(&'static str, String)>> {
    let o = PgConnectOptions::from_str(url)?;
    let mut env = Vec::new();
    match o.get_socket() {
        Some(dir) => env.push(("PGHOST", dir.display().to_string())),
        None => env.push(("PGHOST", o.get_host().to_owned())),
    }
    env.push(("PGPORT", o.get_port().to_string()));
    env.push(("PGUSER", o.get_username().to_owned()));
    if let Some(db) = o.get_database() {
        env.push(("PGDATABASE", db.to_owned()));
    }
    let ssl = match o.get_ssl_mode() {
        PgSslMode::Disable => "disable",
        PgSslMode::Allow => "allow",
        PgSslMode::Prefer => "prefer",
        PgSslMode::Require => "require",
        PgSslMode::VerifyCa => "verify-ca",
        PgSslMode::VerifyFull => "verify-full",
    };
    env.push(("PGSSLMODE", ssl.to_owned()));
    // The certificates the URL names for TLS (`sslrootcert=/etc/pcis/db-ca.pem` with
    // `verify-full`), so that the client programs verify the server as the connection does.
    for (names, var) in [
        (&["sslrootcert", "ssl-root-cert", "ssl-ca"][..], "PGSSLROOTCERT"),
        (&["sslcert", "ssl-cert"][..], "PGSSLCERT"),
        (&["sslkey", "ssl-key"][..], "PGSSLKEY"),
    ] {
        if let Some(path) = url_parameter(url, names) {
            env.push((var, path));
        }
    }
    if let Some(password) = url_password(url) {
        env.push(("PGPASSWORD", password));
    }
    env.push(("PGAPPNAME", "pcis".to_owned()));
    Ok(env)
}

/// The password of a `postgres://user:password@host/…` URL or of its `password=` parameter,
/// percent-decoded.
fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let from_authority =
        authority.rfind('@').and_then(|at| authority[..at].split_once(':')).map(|(_, password)| password);
    let from_query =
        rest.split_once('?').and_then(|(_, q)| q.split('&').find_map(|pair| pair.strip_prefix("password=")));
    from_authority.or(from_query).map(percent_decode)
}

/// The last value of a query parameter of the URL under any of these names, percent-decoded.
fn url_parameter(url: &str, names: &[&str]) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .rsplit('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| names.contains(key))
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_comes_from_the_url_decoded() {
        assert_eq!(url_password("postgres://app:s3%40cret@db:5432/pcis").as_deref(), Some("s3@cret"));
        assert_eq!(
            url_password("postgres://app@db/pcis?sslmode=require&password=x%2Fy").as_deref(),
            Some("x/y")
        );
        assert_eq!(url_password("postgres://postgres@127.0.0.1:5432/test?options[search_path]=t_1"), None);
        assert_eq!(url_password("postgres://db/pcis"), None);
    }

    #[test]
    fn libpq_gets_no_sqlx_only_parameter() {
        let env = libpq_env("postgres://app:pw@db.internal:6432/pcis?options[search_path]=t_1").unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGHOST"), Some("db.internal"));
        assert_eq!(get("PGPORT"), Some("6432"));
        assert_eq!(get("PGUSER"), Some("app"));
        assert_eq!(get("PGDATABASE"), Some("pcis"));
        assert_eq!(get("PGPASSWORD"), Some("pw"));
        assert!(env.iter().all(|(_, v)| !v.contains("search_path")));
    }

    #[test]
    fn libpq_verifies_the_server_with_the_urls_certificate() {
        let env = libpq_env(
            "postgres://app@db.internal/pcis?sslmode=verify-full&sslrootcert=%2Fetc%2Fpcis%2Fdb-ca.pem",
        )
        .unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PGSSLMODE"), Some("verify-full"));
        assert_eq!(get("PGSSLROOTCERT"), Some("/etc/pcis/db-ca.pem"));
        assert_eq!(get("PGSSLCERT"), None);
        let env = libpq_env("postgres://app@db/pcis?ssl-ca=/ca.pem&sslcert=/c.pem&sslkey=/k.pem").unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(
            (get("PGSSLROOTCERT"), get("PGSSLCERT"), get("PGSSLKEY")),
            (Some("/ca.pem"), Some("/c.pem"), Some("/k.pem"))
        );
    }
}
