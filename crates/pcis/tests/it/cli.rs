//! The real `pcis` binary: audit verification and tamper detection, exit codes.

use pcis_domain::role::Role;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

both_backends!(audit_verify_names_the_edited_record);

async fn audit_verify_names_the_edited_record(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::SecurityAuditor).await;
    assert_eq!(api.get("/api/v1/audit").await.status, StatusCode::OK);
    let out = app.cli(&["audit", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("intact"));

    // Tamper with one record directly in the database, as someone with database access could.
    let victim = app.audit_actions("session.login").await.last().unwrap().seq;
    tamper(&app, victim).await;
    let out = app.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("record {victim}")), "{stderr}");

    // A wrong key cannot verify anything.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["--database", &app.db_url, "audit", "verify"])
        .env("PCIS_AUDIT_HMAC_KEY", "00".repeat(32))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

async fn tamper(app: &crate::helpers::TestApp, seq: i64) {
    match &app.app.db {
        pcis_store::Db::Sqlite(p) => {
            sqlx::query("DROP TRIGGER audit_log_no_update").execute(p).await.unwrap();
            sqlx::query("UPDATE audit_log SET reason = 'edited' WHERE seq = $1")
                .bind(seq)
                .execute(p)
                .await
                .unwrap();
        }
        pcis_store::Db::Pg(p) => {
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
                .execute(p)
                .await
                .unwrap();
            sqlx::query("UPDATE audit_log SET reason = 'edited' WHERE seq = $1")
                .bind(seq)
                .execute(p)
                .await
                .unwrap();
        }
    }
}

/// Starts `pcis demo`, waits for its URL line, and returns the child and the URL.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["demo", "--dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env_remove("PCIS_DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let url = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("URL: ").map(|u| u.trim_end_matches('/').to_owned()))
        .expect("demo prints its URL");
    (child, url)
}

#[tokio::test]
async fn demo_runs_twice_and_its_logins_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut logins = Vec::new();
    for _ in 0..2 {
        let (mut child, url) = start_demo(dir.path());
        let text = std::fs::read_to_string(dir.path().join("demo-logins.txt")).unwrap();
        let lines: Vec<Vec<String>> =
            text.lines().map(|l| l.split(' ').map(str::to_owned).collect()).collect();
        assert_eq!(lines.len(), Role::ALL.len(), "one login per role");
        for role in Role::ALL {
            assert!(lines.iter().any(|l| l[0] == role.code()), "no demo login for {role}");
        }
        let http = reqwest::Client::new();
        assert_eq!(http.get(format!("{url}/healthz")).send().await.unwrap().status(), StatusCode::OK);
        let l = &lines[2];
        let r = http
            .post(format!("{url}/api/v1/session"))
            .json(&serde_json::json!({ "username": l[1], "password": l[2] }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "demo login {} works", l[1]);
        logins.push(text);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_ne!(logins[0], logins[1], "a rerun issues fresh one-time passwords");
}

#[test]
fn bad_database_url_fails_with_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["--database", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("sqlite:") && stderr.contains("postgres://"), "{stderr}");
}

#[test]
fn check_config_validates_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.json");
    let pcis = || std::process::Command::new(env!("CARGO_BIN_EXE_pcis"));
    let out = pcis().args(["--keys", keys.to_str().unwrap(), "keys", "init"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = pcis().args(["--keys", keys.to_str().unwrap(), "keys", "init"]).output().unwrap();
    assert!(!again.status.success(), "an existing key file is never overwritten");
    let config = dir.path().join("pcis.toml");
    std::fs::write(
        &config,
        "database_url = \"postgres://app:s3cret@db/pcis\"\n[security]\nlockout_failures = 3\n",
    )
    .unwrap();
    let out = pcis()
        .args(["--config", config.to_str().unwrap(), "--keys", keys.to_str().unwrap(), "check-config"])
        .env_remove("PCIS_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("configuration OK"), "{stdout}");
    assert!(!stdout.contains("s3cret") && !stdout.contains(&std::fs::read_to_string(&keys).unwrap()[20..40]));
    std::fs::write(&config, "[security]\nsession_idle_minutes = 120\n").unwrap();
    let out = pcis().args(["--config", config.to_str().unwrap(), "check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("session_idle_minutes"));
}
