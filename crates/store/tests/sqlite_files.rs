//! A new SQLite database and the files SQLite makes beside it are readable by their owner
//! only, as the key file is: they hold sealed values, blind indexes and the audit trail.

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pcis.db");
    let db = pcis_store::Db::connect(&format!("sqlite:{}", path.display())).await.unwrap();
    db.migrate().await.unwrap();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        seen.push(entry.file_name().to_string_lossy().into_owned());
        assert_eq!(mode, 0o600, "{:?} has mode {mode:o}", entry.file_name());
    }
    assert!(seen.iter().any(|f| f == "pcis.db-wal"), "the WAL is checked too: {seen:?}");
    db.close().await;
}
