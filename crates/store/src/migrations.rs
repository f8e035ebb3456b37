//! The forward-only schema migrations (R-OPS-3), written once for both backends.
//!
//! Each `migrations/NNNN_name.sql` is the schema change as both backends run it. A line that
//! only one backend runs starts with `--@sqlite ` or `--@postgres ` (the marker and one space
//! are removed for that backend, the line dropped for the other), so the two dialects sit side
//! by side where they differ and cannot drift apart where they do not. A migration whose text
//! is empty for a backend does not exist there (0013 tunes PostgreSQL's fill factor only).
//!
//! The rendered text is what sqlx checksums: `migrations/released.sha384` pins the checksum of
//! every migration on each backend, and a test holds the rendering to it, because a
//! database that applied a migration refuses to start when its text changes.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use crate::db::Backend;

/// `(version, name, source)` of every file in `migrations/`, in version order (see build.rs).
const SOURCES: &[(i64, &str, &str)] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The migrations of one backend, ready to run.
pub fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        SOURCES
            .iter()
            .filter_map(|&(version, name, source)| {
                let sql = render(source, backend);
                (!sql.is_empty()).then(|| {
                    // The same description and transaction mode `sqlx::migrate!` derives.
                    let no_tx = sql.starts_with("-- no-transaction");
                    let description = Cow::Owned(name.replace('_', " "));
                    Migration::new(
                        version,
                        description,
                        MigrationType::Simple,
                        AssertSqlSafe(sql).into_sql_str(),
                        no_tx,
                    )
                })
            })
            .collect(),
    )
}

/// The text of a migration source for one backend.
fn render(source: &str, backend: Backend) -> String {
    let (mine, other) = match backend {
        Backend::Sqlite => ("--@sqlite", "--@postgres"),
        Backend::Postgres => ("--@postgres", "--@sqlite"),
    };
    let mut sql = String::with_capacity(source.len());
    for line in source.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(mine) {
            sql.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        } else if !line.starts_with(other) {
            sql.push_str(line);
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn released_migrations_render_to_the_text_databases_applied() {
        let released = include_str!("../migrations/released.sha384");
        let mut pinned = Vec::new();
        for line in released.lines() {
            let [backend, file, sum] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("malformed line {line:?}");
            };
            let backend = if backend == "sqlite" { Backend::Sqlite } else { Backend::Postgres };
            let version: i64 = file[..4].parse().unwrap();
            let migrator = migrator(backend);
            let migration = migrator.iter().find(|m| m.version == version);
            let migration = migration.unwrap_or_else(|| panic!("{file} is gone on {backend:?}"));
            assert_eq!(hex(&migration.checksum), sum, "{file} changed on {backend:?}");
            pinned.push((backend, version));
        }
        // A new migration is pinned when it lands, so that it never changes after.
        for backend in [Backend::Sqlite, Backend::Postgres] {
            for m in migrator(backend).iter() {
                assert!(pinned.contains(&(backend, m.version)), "pin migration {} on {backend:?}", m.version);
            }
        }
    }

    #[test]
    fn a_migration_empty_for_a_backend_does_not_exist_there() {
        let versions = |b| migrator(b).iter().map(|m| m.version).collect::<Vec<_>>();
        assert!(!versions(Backend::Sqlite).contains(&13));
        assert!(versions(Backend::Postgres).contains(&13));
    }

    #[test]
    fn markers_keep_a_line_for_one_backend_only() {
        let source = "CREATE TABLE t (\n--@sqlite     id INTEGER PRIMARY KEY\n--@postgres     id BIGINT\n--@sqlite\n);\n";
        assert_eq!(render(source, Backend::Sqlite), "CREATE TABLE t (\n    id INTEGER PRIMARY KEY\n\n);\n");
        assert_eq!(render(source, Backend::Postgres), "CREATE TABLE t (\n    id BIGINT\n);\n");
    }
}
