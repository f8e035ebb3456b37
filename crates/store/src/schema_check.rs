//! What `pcis check-config` asks of a database: does it answer, and which of this binary's
//! migrations has it applied. Invariant: nothing here changes a database — no migration runs,
//! no database file is created, no journal mode is set ([`crate::Db::migrate`] is the one
//! place that migrates).

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::{Backend, DbResult};

/// Where a database stands against this binary's migrations (by version).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SchemaState {
    /// Migrations of this binary not applied yet: `pcis migrate` applies them.
    pub pending: Vec<i64>,
    /// Migrations that started and did not finish.
    pub failed: Vec<i64>,
    /// Applied migrations whose text is not the one this binary has.
    pub changed: Vec<i64>,
    /// Applied migrations this binary does not know: a newer `pcis` migrated the database.
    pub unknown: Vec<i64>,
}

impl SchemaState {
    /// The database has exactly this binary's migrations.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty()
            && self.failed.is_empty()
            && self.changed.is_empty()
            && self.unknown.is_empty()
    }
}

/// The file of a `sqlite:` URL; `None` for PostgreSQL or an in-memory database.
pub fn sqlite_file(url: &str) -> DbResult<Option<PathBuf>> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    Ok(Some(SqliteConnectOptions::from_str(url)?.get_filename().to_owned()))
}

/// `(version, success, checksum)` of every migration the database recorded.
type Applied = Vec<(i64, bool, Vec<u8>)>;

const APPLIED: &str = "SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version";

/// Opens one connection (no pool, so no retry: a refused connection is reported at once, as
/// such) and compares the migrations the database applied with this binary's. A SQLite file
/// must exist already. The caller bounds the time it may take.
pub async fn schema_state(url: &str) -> DbResult<SchemaState> {
    let (backend, applied) = if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false);
        let mut c = SqliteConnection::connect_with(&options).await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
        )
        .fetch_one(&mut c)
        .await?;
        let applied: Applied =
            if exists { sqlx::query_as(APPLIED).fetch_all(&mut c).await? } else { Vec::new() };
        c.close().await?;
        (Backend::Sqlite, applied)
    } else {
        let options = PgConnectOptions::from_str(url)?;
        let mut c = PgConnection::connect_with(&options).await?;
        // The search path decides which schema's table the application would use.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut c)
            .await?;
        let applied: Applied =
            if exists { sqlx::query_as(APPLIED).fetch_all(&mut c).await? } else { Vec::new() };
        c.close().await?;
        (Backend::Postgres, applied)
    };
    Ok(compare(backend, &applied))
}

fn compare(backend: Backend, applied: &[(i64, bool, Vec<u8>)]) -> SchemaState {
    let migrator = crate::migrations::migrator(backend);
    let mut state = SchemaState::default();
    for m in migrator.iter() {
        match applied.iter().find(|(version, ..)| *version == m.version) {
            None => state.pending.push(m.version),
            Some((_, false, _)) => state.failed.push(m.version),
            Some((_, true, checksum)) if checksum[..] != m.checksum[..] => state.changed.push(m.version),
            Some(_) => {}
        }
    }
    state.unknown = applied
        .iter()
        .map(|(version, ..)| *version)
        .filter(|v| !migrator.iter().any(|m| m.version == *v))
        .collect();
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_database_is_current_once_migrated_and_never_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pcis.db");
        let url = format!("sqlite:{}", path.display());
        assert_eq!(sqlite_file(&url).unwrap(), Some(path.clone()));
        assert_eq!(sqlite_file("sqlite::memory:").unwrap(), None);
        assert!(schema_state(&url).await.is_err(), "a missing file is an error");
        assert!(!path.exists(), "and is not created");

        let db = crate::Db::connect(&url).await.unwrap();
        let all: Vec<i64> = crate::migrations::migrator(Backend::Sqlite).iter().map(|m| m.version).collect();
        assert_eq!(schema_state(&url).await.unwrap(), SchemaState { pending: all, ..SchemaState::default() });
        db.migrate().await.unwrap();
        assert!(schema_state(&url).await.unwrap().is_current());

        let crate::Db::Sqlite { write, .. } = &db else { unreachable!() };
        sqlx::query("UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1")
            .execute(write)
            .await
            .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET success = FALSE WHERE version = 2")
            .execute(write)
            .await
            .unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (9999, 'future', TRUE, x'00', 0)")
            .execute(write)
            .await
            .unwrap();
        let state = schema_state(&url).await.unwrap();
        assert_eq!((state.changed, state.failed, state.unknown), (vec![1], vec![2], vec![9999]));
        assert!(state.pending.is_empty());
        db.close().await;
    }
}
