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
