//! The bundled SQLite must be compiled as `.cargo/config.toml` says: without
//! SQLITE_ENABLE_MEMORY_MANAGEMENT, whose page cache shared behind one mutex made every page
//! fetch slower (a build outside this workspace would lose the setting silently).

use pcis_store::Db;

#[tokio::test]
async fn sqlite_pages_are_cached_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite:{}", dir.path().join("s.db").display())).await.unwrap();
    let Db::Sqlite { read, .. } = &db else { unreachable!("a sqlite: URL opens SQLite") };
    let options: Vec<String> = sqlx::query_scalar("SELECT compile_options FROM pragma_compile_options")
        .fetch_all(read)
        .await
        .unwrap();
    assert!(options.iter().any(|o| o.starts_with("THREADSAFE=")), "compile options listed: {options:?}");
    assert!(!options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"), "compiled with {options:?}");
}
