//! The real `pcis` binary: audit verification and tamper detection, key rotation, exit codes.

use pcis_domain::role::Role;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{Api, Backend, ServedNode, csrf_of, spawn_app};

both_backends!(
    a_rotation_never_answers_500_on_a_node_holding_the_old_key_file,
    audit_verify_names_the_edited_record,
    an_older_chain_learns_its_key_check_from_a_passing_verification,
    keys_rotate_reseals_every_value_under_a_new_key
);

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

    // A wrong key cannot verify anything, and says so rather than crying tamper.
    let out = verify_with_wrong_key(&app);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the one this log was written with"));
}

fn verify_with_wrong_key(app: &crate::helpers::TestApp) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["--database", &app.db_url, "audit", "verify"])
        .env("PCIS_KEYS", crate::helpers::test_key_file(&"00".repeat(32)).to_string())
        .output()
        .unwrap()
}

/// Issue 17 (2): a chain written before the key's check value existed gets it from its first
/// passing verification; until then a failing first record hints that the key may be wrong.
async fn an_older_chain_learns_its_key_check_from_a_passing_verification(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let forget = "UPDATE audit_chain_head SET key_check = NULL";
    match &app.app.db {
        pcis_store::Db::Sqlite { write: p, .. } => sqlx::query(forget).execute(p).await.map(drop),
        pcis_store::Db::Pg(p) => sqlx::query(forget).execute(p).await.map(drop),
    }
    .unwrap();
    let out = verify_with_wrong_key(&app);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("record 1") && stderr.contains("may be the wrong one"), "{stderr}");
    assert!(app.cli(&["audit", "verify"]).status.success());
    assert_eq!(verify_with_wrong_key(&app).status.code(), Some(3));
}

/// R-PRV-3: `pcis keys add` adds a data key, not yet active; `pcis keys rotate` makes it
/// active and re-seals every stored value under it; old versions stay in the key file; a
/// rerun finds nothing left; audited. Without an added key there is nothing to activate.
async fn keys_rotate_reseals_every_value_under_a_new_key(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = crate::customers::seed(&app).await;
    let manager = app.api_as(Role::AccountManager).await;
    let change = serde_json::json!({ "kind": "modify", "changes": { "occupation": "教师" } });
    let r = manager.post(&format!("/api/v1/customers/{id}/proposals"), change).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);

    let refused = app.cli(&["keys", "rotate"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pcis keys add"));
    let added = app.cli(&["keys", "add"]);
    assert!(String::from_utf8_lossy(&added.stdout).contains("version 2 added"), "{added:?}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&app.key_file).unwrap()).unwrap();
    assert_eq!(file["active_data_key"], 1, "an added key is not active before every node holds it");

    let out = app.cli(&["keys", "rotate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // ID, mobile, address, one account, one proposal payload.
    assert!(stdout.contains("re-sealed 5 of 5 values under data key version 2"), "{stdout}");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&app.key_file).unwrap()).unwrap();
    assert_eq!(file["active_data_key"], 2);
    assert_eq!(file["data_keys"]["1"], "07".repeat(32), "the old key stays for values written meanwhile");
    let new_key: [u8; 32] =
        hex::decode(file["data_keys"]["2"].as_str().unwrap()).unwrap().try_into().unwrap();

    // Everything is now under version 2 and opens with the new key.
    let v2 = 2u32.to_be_bytes();
    let mut tx = app.app.db.begin_read().await.unwrap();
    for c in pcis_store::sealed::SEALED_COLUMNS {
        assert_eq!(pcis_store::sealed::count_stale(&mut tx, c, &v2).await.unwrap(), 0, "{c:?}");
    }
    let c = pcis_store::sealed::SEALED_COLUMNS[1];
    let rows = pcis_store::sealed::stale(&mut tx, c, &[0, 0, 0, 0], 0, 10).await.unwrap();
    drop(tx);
    let keys = pcis_domain::crypto::DataKeys::new(2, [(2, new_key)].into(), vec![8u8; 32]).unwrap();
    assert_eq!(keys.open(c.field, &rows[0].1).unwrap(), "13812345678");

    let out = app.cli(&["keys", "rotate", "--reseal-only"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("re-sealed 0 of 0 values under data key version 2")
    );
    assert_eq!(app.audit_actions("keys.rotate").await.len(), 2);
}

async fn tamper(app: &crate::helpers::TestApp, seq: i64) {
    match &app.app.db {
        pcis_store::Db::Sqlite { write: p, .. } => {
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

/// The demo server's log output: with the run's logs when they are kept.
fn demo_log() -> std::process::Stdio {
    match crate::helpers::log_dir() {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            let name = format!(
                "demo-{}-{}.log",
                std::process::id(),
                time::OffsetDateTime::now_utc().unix_timestamp_nanos()
            );
            std::fs::File::create(dir.join(name)).unwrap().into()
        }
        None => std::process::Stdio::null(),
    }
}

/// Starts `pcis demo`, waits for its URL line, and returns the child and the URL.
fn start_demo(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
        .args(["demo", "--dir", dir.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env_remove("PCIS_DATABASE_URL")
        .env("PCIS_LOG", crate::helpers::LOG_FILTER)
        .stdout(std::process::Stdio::piped())
        .stderr(demo_log())
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

/// Logs in through the browser UI with a one-time password, changes it as forced, and
/// returns the home page.
async fn first_ui_login(url: &str, username: &str, one_time: &str, new: &str) -> String {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = http.get(format!("{url}/login")).send().await.unwrap().text().await.unwrap();
    let form = [("_csrf", csrf_of(&login)), ("username", username.into()), ("password", one_time.into())];
    let page = http.post(format!("{url}/login")).form(&form).send().await.unwrap();
    assert!(page.url().path().ends_with("/password"), "{username}: a one-time password leads to /password");
    let page = page.text().await.unwrap();
    let form = [
        ("_csrf", csrf_of(&page)),
        ("current_password", one_time.into()),
        ("new_password", new.to_owned()),
        ("confirm_password", new.to_owned()),
    ];
    let r = http.post(format!("{url}/password")).form(&form).send().await.unwrap();
    let status = r.status();
    assert_eq!(status, StatusCode::OK, "{username}: password change: {}", r.text().await.unwrap_or_default());
    http.get(format!("{url}/")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn demo_runs_twice_and_every_role_reaches_its_home() {
    let dir = tempfile::tempdir().unwrap();
    let mut logins = Vec::new();
    for run in 0..2 {
        let (mut child, url) = start_demo(dir.path());
        let text = std::fs::read_to_string(dir.path().join("demo-logins.txt")).unwrap();
        let lines: Vec<Vec<String>> =
            text.lines().map(|l| l.split(' ').map(str::to_owned).collect()).collect();
        let roles: std::collections::BTreeSet<&str> = lines.iter().map(|l| l[0].as_str()).collect();
        assert_eq!(roles.len(), Role::ALL.len(), "a login for every role");
        // Two account managers share the demo outlet, so that a colleague's customers exist.
        assert_eq!(lines.iter().filter(|l| l[0] == "account_manager").count(), 2);
        if run == 0 {
            for role in Role::ALL {
                let l = lines.iter().find(|l| l[0] == role.code()).expect("a demo login per role");
                let home = first_ui_login(&url, &l[1], &l[2], "Demo2026pass").await;
                let role_name =
                    pcis_web::translate(pcis_web::Lang::Zh, &format!("role.{}", role.code()), &[]);
                let duties =
                    pcis_web::translate(pcis_web::Lang::Zh, &format!("role_desc.{}", role.code()), &[]);
                assert!(home.contains("本岗职责") && home.contains(&role_name), "{role}: home page");
                assert!(home.contains(&duties), "{role}: the home page states the role's duties");
            }
        } else {
            // The rerun gave fresh one-time passwords, which work (and the history still
            // refuses the password chosen in the first run, so choose another).
            let l = &lines[0];
            first_ui_login(&url, &l[1], &l[2], "Demo2027pass").await;
        }
        logins.push(text);
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_ne!(logins[0], logins[1], "a rerun issues fresh one-time passwords");

    // After that session of use the audit chain verifies; a direct edit is named.
    let database = format!("sqlite:{}", dir.path().join("pcis.db").display());
    let keys = dir.path().join("keys.json");
    let verify = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
            .args(["--database", &database, "--keys", keys.to_str().unwrap(), "audit", "verify"])
            .env_remove("PCIS_KEYS")
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = pcis_store::Db::connect(&database).await.unwrap();
    let pcis_store::Db::Sqlite { write: pool, .. } = &db else { unreachable!() };
    sqlx::query("DROP TRIGGER audit_log_no_update").execute(pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET username = 'someone_else' WHERE seq = 7").execute(pool).await.unwrap();
    db.close().await;
    let out = verify();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("record 7"));
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
    let key_material = std::fs::read_to_string(&keys).unwrap()[20..40].to_owned();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // The database `db` does not answer: refused and named, and still no secret printed.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("database_url"), "{stderr}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("s3cret") && !text.contains(&key_material), "{text}");
    }
    // A database that answers and is migrated passes.
    let database = format!("sqlite:{}", dir.path().join("pcis.db").display());
    assert!(pcis().args(["--database", &database, "migrate"]).output().unwrap().status.success());
    let out = pcis()
        .args(["--config", config.to_str().unwrap(), "--keys", keys.to_str().unwrap()])
        .args(["--database", &database, "check-config"])
        .env_remove("PCIS_KEYS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("configuration OK"), "{stdout}");
    assert!(!stdout.contains(&key_material));
    let mut file: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&keys).unwrap()).unwrap();
    assert_eq!(file["active_data_key"], 1, "keys init writes data keys and the blind-index key");
    file["blind_index"] = file["data_keys"]["1"].clone();
    let bad_keys = dir.path().join("bad-keys.json");
    std::fs::write(&bad_keys, file.to_string()).unwrap();
    let out = pcis().args(["--keys", bad_keys.to_str().unwrap(), "check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a blind-index key equal to a data key is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid keys"));
    std::fs::write(&config, "[security]\nsession_idle_minutes = 120\n").unwrap();
    let out = pcis().args(["--config", config.to_str().unwrap(), "check-config"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("session_idle_minutes"));
}

/// A `pcis serve` node of the test app's database with its own key file.
fn serve_node(app: &crate::helpers::TestApp, key_file: &std::path::Path) -> ServedNode {
    let dir = key_file.parent().unwrap();
    ServedNode::start(dir, &["--database", &app.db_url, "--keys", key_file.to_str().unwrap()])
}

/// Issue 17 (2): a key rotation with two nodes running, one still holding the old key file:
/// every value is re-sealed under the new key; the node that lacks it answers "try again"
/// (503), never 500, and serves the value as soon as its file holds the key — without a restart.
async fn a_rotation_never_answers_500_on_a_node_holding_the_old_key_file(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = crate::customers::seed(&app).await;
    app.api_as(Role::AccountManager).await; // the one-time password is changed
    let old_file = app.key_file.with_file_name("node-b-keys.json");
    std::fs::copy(&app.key_file, &old_file).unwrap();
    let node_a = serve_node(&app, &app.key_file);
    let node_b = serve_node(&app, &old_file);
    let (on_a, on_b) = (manager_on(&node_a).await, manager_on(&node_b).await);
    let reveal = |api| reveal_mobile(api, id);
    assert_eq!(reveal(&on_b).await.body["value"], "13812345678");

    assert!(app.cli(&["keys", "add"]).status.success());
    let rotated = app.cli(&["keys", "rotate"]);
    assert!(String::from_utf8_lossy(&rotated.stdout).contains("under data key version 2"), "{rotated:?}");
    // Node A's file holds version 2: it reloads by itself on meeting it.
    assert_eq!(reveal(&on_a).await.body["value"], "13812345678");
    // Node B's file does not yet: "try again", not a server error.
    let r = reveal(&on_b).await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"), "{:?}", r.body);
    std::fs::copy(&app.key_file, &old_file).unwrap();
    assert_eq!(reveal(&on_b).await.body["value"], "13812345678");
}

async fn manager_on(node: &ServedNode) -> Api {
    let mut api = Api { base: node.base.clone(), http: reqwest::Client::new(), token: None };
    api.login(&crate::helpers::username_of(Role::AccountManager), crate::helpers::PASSWORD).await;
    api
}

async fn reveal_mobile(api: &Api, customer: i64) -> crate::helpers::Reply {
    let path = format!("/api/v1/customers/{customer}/reveal");
    api.post(&path, serde_json::json!({ "field": "mobile", "reason": "核实身份" })).await
}
