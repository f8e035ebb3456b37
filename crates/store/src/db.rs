//! Connections, transactions and the dispatch that lets one query text run on both backends.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};
use time::OffsetDateTime;

use crate::DbResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool on either backend.
#[derive(Debug, Clone)]
pub enum Db {
    /// SQLite allows one writer at a time. Writers queue for the single connection of the
    /// `write` pool (an async, fair wait) instead of spinning on the busy timeout; readers
    /// use `read` concurrently (WAL).
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
    },
    Pg(PgPool),
}

/// A transaction on either backend. Dropping it without `commit` rolls it back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Pg(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to the transaction's connection, whichever backend it is.
/// The body is compiled once per backend, so each arm is fully type-checked.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::Tx::Pg(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Executes one statement on the transaction's connection and returns the rows it affected.
#[macro_export]
macro_rules! exec {
    ($tx:expr, $query:expr) => {
        $crate::on_tx!($tx, c => $query.execute(c).await.map(|r| r.rows_affected()))
    };
}

/// Creates a missing database file readable by its owner only (0600), as the key file is: it
/// holds sealed values, blind indexes and the audit trail. SQLite gives the `-wal` and `-shm`
/// files it makes beside it the database file's mode. An in-memory database has no file.
fn create_owner_only(path: &std::path::Path) -> DbResult<()> {
    if path.as_os_str().is_empty() || path == std::path::Path::new(":memory:") {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(sqlx::Error::Io(e)),
    }
}

impl Db {
    /// `sqlite:PATH` (created owner-only if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> DbResult<Db> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?;
            create_owner_only(options.get_filename())?;
            let options = options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // The one writer keeps 64 MiB of pages: index inserts at random keys (blind
            // indexes) otherwise miss SQLite's default 2 MiB cache on every row of a load.
            let write_options = options.clone().pragma("cache_size", "-65536");
            let write = SqlitePoolOptions::new().max_connections(1).connect_with(write_options).await?;
            let read = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
            Ok(Db::Sqlite { read, write })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            Ok(Db::Pg(pool))
        } else {
            Err(sqlx::Error::Configuration("database URL must start with sqlite: or postgres://".into()))
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Pg(_) => Backend::Postgres,
        }
    }

    /// Applies the forward-only migrations of this backend (R-OPS-3). A schema already up to
    /// date is left alone without asking for any right: in production the application role
    /// may not create tables, and sqlx's migrator would try to create its bookkeeping table.
    pub async fn migrate(&self) -> DbResult<()> {
        let migrator = crate::migrations::migrator(self.backend());
        match self {
            Db::Sqlite { write, .. } => migrator.run(write).await?,
            Db::Pg(p) => {
                let applied: Vec<i64> =
                    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                        .fetch_all(p)
                        .await
                        .unwrap_or_default();
                let wanted: Vec<i64> = migrator.iter().map(|m| m.version).collect();
                if applied != wanted {
                    migrator.run(p).await?;
                }
            }
        }
        Ok(())
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of one failing
    /// when it upgrades from reading.
    pub async fn begin(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Db::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    /// A transaction that only reads.
    pub async fn begin_read(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(read.begin().await?),
            Db::Pg(p) => Tx::Pg(p.begin().await?),
        })
    }

    pub async fn ping(&self) -> DbResult<()> {
        let mut tx = self.begin_read().await?;
        exec!(&mut tx, sqlx::query("SELECT 1"))?;
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
            Db::Pg(p) => p.close().await,
        }
    }

    /// Each pool's connections, open and idle, for the metrics (sampled when scraped).
    pub fn pool_stats(&self) -> Vec<PoolStats> {
        let stats = |pool: &'static str, size: u32, idle: usize| PoolStats { pool, size, idle };
        match self {
            Db::Sqlite { read, write } => vec![
                stats("read", read.size(), read.num_idle()),
                stats("write", write.size(), write.num_idle()),
            ],
            Db::Pg(p) => vec![stats("main", p.size(), p.num_idle())],
        }
    }
}

/// One pool's connections at a moment: open (`size`) and of those idle.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    /// `read` and `write` on SQLite, `main` on PostgreSQL.
    pub pool: &'static str,
    pub size: u32,
    pub idle: usize,
}

impl Tx {
    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Pg(t) => t.commit().await,
        }
    }
}

pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// Storage form of an instant: UTC microseconds since the epoch.
pub fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

pub fn from_micros(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(us as i128 * 1000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A bind value of a query assembled at run time (search filters).
#[derive(Debug, Clone)]
pub enum Arg {
    I64(i64),
    OptI64(Option<i64>),
    Text(String),
    OptText(Option<String>),
    Bytes(Option<Vec<u8>>),
    Bool(bool),
}

/// A query text with `$n` placeholders and the values to bind, built piece by piece.
#[derive(Debug, Default)]
pub struct SqlBuilder {
    pub sql: String,
    pub args: Vec<Arg>,
}

impl SqlBuilder {
    pub fn new(sql: &str) -> Self {
        Self { sql: sql.to_owned(), args: Vec::new() }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends ` IN ($a, $b, …)` with a placeholder per value.
    pub fn in_list(&mut self, values: impl IntoIterator<Item = Arg>) -> &mut Self {
        self.push(" IN (");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self.push(")")
    }

    /// Appends `AND <column> within the scope`: nothing for the whole deployment, a path range
    /// for a subtree (an index range scan on both backends). An outlet's subtree is the outlet
    /// alone (the tree has five levels), so there the path is compared for equality: the index
    /// then seeks on the columns after the path too, instead of filtering every row of it.
    pub fn scope(&mut self, path_column: &str, scope: &pcis_domain::policy::ScopeFilter) -> &mut Self {
        if let pcis_domain::policy::ScopeFilter::Subtree(root) = scope {
            if root.depth() == usize::from(pcis_domain::institution::Level::OUTLET.get()) {
                return self
                    .push(&format!(" AND {path_column} = "))
                    .bind(Arg::Text(root.as_str().to_owned()));
            }
            self.push(&format!(" AND {path_column} >= "))
                .bind(Arg::Text(root.as_str().to_owned()))
                .push(&format!(" AND {path_column} < "))
                .bind(Arg::Text(root.subtree_upper_bound()));
        }
        self
    }
}

/// Binds a builder's values to a query, on whichever backend.
#[macro_export]
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::db::Arg::I64(v) => q.bind(*v),
                $crate::db::Arg::OptI64(v) => q.bind(*v),
                $crate::db::Arg::Text(s) => q.bind(s.clone()),
                $crate::db::Arg::OptText(s) => q.bind(s.clone()),
                $crate::db::Arg::Bytes(b) => q.bind(b.clone()),
                $crate::db::Arg::Bool(b) => q.bind(*b),
            };
        }
        q
    }};
}
