//! `pcis backup` and `pcis restore` through the real binary (R-OPS-1): a backup restores into
//! an empty database whose audit chain verifies with the same key file and whose rows match
//! the manifest; a backup taken while the servers write is consistent; a database that is not
//! empty is never restored into; neither file holds key material and both are owner-only.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use pcis_domain::role::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    AUDIT_KEY_HEX, Api, Backend, LOG_FILTER, PASSWORD, fresh_database, keep_child_log, spawn_app,
};

both_backends!(
    a_backup_restores_into_an_empty_database_whose_chain_verifies,
    a_backup_taken_while_the_servers_write_restores_a_consistent_chain
);

/// The real binary on any database with the test key file.
fn pcis(db: &str, keys: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["--database", db, "--keys", keys.to_str().unwrap()])
        .args(args)
        .env_remove("PCIS_KEYS")
        .env_remove("PCIS_PG_BIN")
        .env("PCIS_LOG", LOG_FILTER)
        .output()
        .expect("run pcis");
    keep_child_log("backup", &out.stderr);
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The command's own error lines (the rest of stderr is its log).
fn errors(out: &Output) -> Vec<String> {
    text(&out.stderr).lines().filter(|l| l.starts_with("pcis: ")).map(str::to_owned).collect()
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn manifest(backup: &Path) -> (String, Value) {
    let text = std::fs::read_to_string(format!("{}.manifest.json", backup.display())).unwrap();
    let value = serde_json::from_str(&text).unwrap();
    (text, value)
}

/// Every table and its rows, read straight from a database.
async fn table_rows(url: &str) -> Value {
    let db = pcis_store::Db::connect(url).await.unwrap();
    let mut tx = db.begin_read().await.unwrap();
    let contents = pcis_store::backup::contents(&mut tx, |_| {}).await.unwrap();
    drop(tx);
    db.close().await;
    serde_json::to_value(contents.tables).unwrap()
}

async fn a_backup_restores_into_an_empty_database_whose_chain_verifies(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = crate::customers::seed(&app).await;
    let manager = app.api_as(Role::AccountManager).await;
    assert_eq!(manager.get(&format!("/api/v1/customers/{id}")).await.status, StatusCode::OK);
    let change = json!({ "kind": "modify", "changes": { "occupation": "教师" } });
    let r = manager.post(&format!("/api/v1/customers/{id}/proposals"), change).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let auditor = app.api_as(Role::SecurityAuditor).await;
    assert_eq!(auditor.get("/api/v1/audit").await.status, StatusCode::OK);

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("pcis.backup");
    let out = app.cli(&["backup", "--out", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("data key version(s) 1"), "{}", text(&out.stdout));
    let recorded = app.audit_actions("database.backup").await;
    assert_eq!(recorded.len(), 1, "the backup is audited, and holds its own record");
    let manifest_file = dir.path().join("pcis.backup.manifest.json");
    assert_eq!((mode(&backup), mode(&manifest_file)), (0o600, 0o600));

    // What the manifest says, and that it names keys without holding any.
    let (raw, m) = manifest(&backup);
    for key in [AUDIT_KEY_HEX.to_owned(), "07".repeat(32), "08".repeat(32)] {
        assert!(!raw.contains(&key), "key material in the manifest: {raw}");
    }
    let backend = if b == Backend::Sqlite { "sqlite" } else { "postgres" };
    assert_eq!(m["backend"], backend);
    assert_eq!(m["pcis_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(m["data_key_versions"], json!([1]), "{raw}");
    let check = pcis_domain::audit::key_check(&hex::decode(AUDIT_KEY_HEX).unwrap());
    assert_eq!(m["audit_key_check"], check.as_str());
    assert_eq!(m["tables"]["customer"], 1);
    assert_eq!(m["tables"]["customer_proposal"], 1);
    assert_eq!(m["tables"]["audit_log"], m["audit_chain_head_seq"], "one snapshot: {raw}");
    assert!(m["migrations"].as_array().is_some_and(|v| v.contains(&json!(1))), "{raw}");
    assert_eq!(m["tables"], table_rows(&app.db_url).await, "nothing was written since");

    // A backup never overwrites a file.
    let again = app.cli(&["backup", "--out", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(errors(&again)[0].contains("exists"), "{:?}", errors(&again));

    // Into a fresh, empty database: the rows match and the chain verifies with the same key.
    let target_dir = tempfile::tempdir().unwrap();
    let target = fresh_database(b, target_dir.path()).await.unwrap();
    let out = pcis(&target, &app.key_file, &["restore", "--from", backup.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("the row counts match the manifest"), "{stdout}");
    assert!(stdout.contains("the key file holds the data key versions and the audit key"), "{stdout}");
    assert_eq!(table_rows(&target).await, m["tables"]);
    if b == Backend::Sqlite {
        assert_eq!(mode(&target_dir.path().join("pcis.db")), 0o600);
    }
    let verify = pcis(&target, &app.key_file, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    let intact = format!("audit chain intact: {} records", m["audit_chain_head_seq"]);
    assert!(text(&verify.stdout).contains(&intact), "{}", text(&verify.stdout));

    // Never into a database that is not empty: the restored one, or the original.
    for url in [&target, &app.db_url] {
        let out = pcis(url, &app.key_file, &["restore", "--from", backup.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        let errors = errors(&out);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("not empty") && errors[0].contains("restore only into an empty database"));
    }

    // A damaged backup is refused before the target is touched.
    let mut bytes = std::fs::read(&backup).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&backup, bytes).unwrap();
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = fresh_database(b, empty_dir.path()).await.unwrap();
    let out = pcis(&empty, &app.key_file, &["restore", "--from", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(errors(&out)[0].contains("does not match its manifest"), "{:?}", errors(&out));
    if b == Backend::Sqlite {
        assert!(!empty_dir.path().join("pcis.db").exists());
    }

    if b == Backend::Postgres {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
            .args(["--database", &app.db_url, "--keys", app.key_file.to_str().unwrap(), "backup", "--out"])
            .arg(dir.path().join("other.backup"))
            .env_remove("PCIS_KEYS")
            .env("PCIS_PG_BIN", "/nonexistent")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(errors(&out)[0].contains("pg_dump not found"), "{:?}", errors(&out));
        assert!(!dir.path().join("other.backup.partial").exists());
    }
}

async fn a_backup_taken_while_the_servers_write_restores_a_consistent_chain(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = crate::customers::seed(&app).await;
    // Every writer logs in with the changed password from now on.
    for role in [Role::AccountManager, Role::SecurityAuditor] {
        app.api_as(role).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for user in ["u_account_manager", "u_security_auditor"] {
        let (stop, done, base) = (stop.clone(), done.clone(), app.base.clone());
        writers.push(tokio::spawn(async move {
            let mut api = Api { base, http: reqwest::Client::new(), token: None };
            let path = if user == "u_account_manager" {
                format!("/api/v1/customers/{id}")
            } else {
                "/api/v1/audit".into()
            };
            for round in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Now and then a login (a session and its audit record); every read is audited.
                if round % 5 == 0 {
                    assert_eq!(api.login(user, PASSWORD).await.status, StatusCode::CREATED);
                }
                assert_eq!(api.get(&path).await.status, StatusCode::OK);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    while done.load(Ordering::Relaxed) < 4 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("live.backup");
    let before = done.load(Ordering::Relaxed);
    let (db, keys, path) = (app.db_url.clone(), app.key_file.clone(), backup.clone());
    let out =
        tokio::task::spawn_blocking(move || pcis(&db, &keys, &["backup", "--out", path.to_str().unwrap()]))
            .await
            .unwrap();
    let during = done.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    eprintln!("{during} write rounds ran while the backup was taken");
    assert!(during > 0, "the servers kept writing during the backup");

    // The manifest describes one moment: the log holds exactly the records the head counts,
    // and the writers went on past it.
    let (raw, m) = manifest(&backup);
    let head = m["audit_chain_head_seq"].as_i64().unwrap();
    assert_eq!(m["tables"]["audit_log"], head, "{raw}");
    let now = table_rows(&app.db_url).await;
    assert!(now["audit_log"].as_i64().unwrap() > head, "the writers went on after the snapshot");

    let target_dir = tempfile::tempdir().unwrap();
    let target = fresh_database(b, target_dir.path()).await.unwrap();
    let out = pcis(&target, &app.key_file, &["restore", "--from", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(table_rows(&target).await, m["tables"]);
    let verify = pcis(&target, &app.key_file, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains(&format!("audit chain intact: {head} records")));
}
