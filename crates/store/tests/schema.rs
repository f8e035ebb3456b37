//! The SQLite and PostgreSQL migrations must produce the same tables and columns, and the
//! role catalogue and matrix the same rows (R-OPS-3: forward-only, tested on both).

use std::collections::BTreeSet;

use pcis_store::Db;

async fn columns(db: &Db) -> BTreeSet<(String, String)> {
    const SQLITE: &str = "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '_sqlx%'";
    const POSTGRES: &str = "SELECT table_name::text, column_name::text FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%'";
    let rows: Vec<(String, String)> = match db {
        Db::Sqlite { read, .. } => sqlx::query_as(SQLITE).fetch_all(read).await,
        Db::Pg(p) => sqlx::query_as(POSTGRES).fetch_all(p).await,
    }
    .unwrap();
    rows.into_iter().collect()
}

async fn matrix(db: &Db) -> Vec<String> {
    let mut tx = db.begin_read().await.unwrap();
    let mut rows: Vec<String> =
        pcis_store::matrix::load(&mut tx).await.unwrap().iter().map(|g| format!("{g:?}")).collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn both_backends_migrate_to_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::connect(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    sqlite.migrate().await.unwrap();
    sqlite.migrate().await.unwrap(); // idempotent
    let Ok(base) = std::env::var("PCIS_TEST_POSTGRES_URL") else {
        assert!(std::env::var("PCIS_TEST_REQUIRE_ALL").as_deref() != Ok("1"), "PostgreSQL is required");
        eprintln!("SKIPPED: PostgreSQL schema comparison (PCIS_TEST_POSTGRES_URL unset)");
        return;
    };
    let schema = format!(
        "schema_{}_{}",
        std::process::id(),
        dir.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let admin = Db::connect(&base).await.unwrap();
    let Db::Pg(pool) = &admin else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(pool).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let pg = Db::connect(&format!("{base}{sep}options[search_path]={schema}")).await.unwrap();
    pg.migrate().await.unwrap();
    pg.migrate().await.unwrap();
    let (s, p) = (columns(&sqlite).await, columns(&pg).await);
    assert!(!s.is_empty());
    assert_eq!(
        s,
        p,
        "columns differ: only SQLite {:?}, only PostgreSQL {:?}",
        s.difference(&p).collect::<Vec<_>>(),
        p.difference(&s).collect::<Vec<_>>()
    );
    assert_eq!(matrix(&sqlite).await, matrix(&pg).await);
    pg.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(pool).await.unwrap();
}
