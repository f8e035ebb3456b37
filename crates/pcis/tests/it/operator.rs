//! The operator's path (issue 17) through the real binary: the application role's grants on
//! PostgreSQL, commands that refuse to guess a database, the client's address behind a proxy.

use std::path::Path;
use std::process::Output;

use pcis_domain::role::Role;
use pcis_service::SecurityConfig;

use crate::both_backends;
use crate::helpers::{
    AUDIT_KEY_HEX, Api, Backend, ServedNode, fresh_database, output_text, pcis_in, spawn_app_behind,
    test_key_file, username_of,
};

/// `pcis` in `dir` with its key file and the given database.
fn pcis(dir: &Path, database: Option<&str>, args: &[&str]) -> Output {
    let keys = dir.join("keys.json");
    let mut all = vec!["--keys", keys.to_str().unwrap()];
    if let Some(url) = database {
        all.extend(["--database", url]);
    }
    all.extend(args);
    pcis_in(dir, "operator", &all)
}

fn text(out: &Output) -> String {
    output_text(out)
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keys.json"), test_key_file(AUDIT_KEY_HEX).to_string()).unwrap();
    dir
}

/// Issue 17 (1): with exactly the rights `pcis grants` gives, the application role runs the
/// nightly job (an import, the tier recomputation with its temporary table and statistics,
/// the suspicious list), a key rotation and an audit verification; it can neither change the
/// schema nor rewrite the audit log.
#[tokio::test]
async fn the_application_role_runs_nightly_import_and_rotation_with_its_grants_only() {
    let dir = setup();
    let d = dir.path();
    let Some(owner) = fresh_database(Backend::Postgres, d).await else { return };
    let role = format!("pcis_app_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&owner).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP OWNED BY {role}"))).execute(&admin).await.ok();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}"))).execute(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN"))).execute(&admin).await.unwrap();
    // As on a production database: no right through PUBLIC (the other tests connect as a
    // superuser, whom this does not touch).
    let database: String =
        sqlx::query_scalar("SELECT current_database()::text").fetch_one(&admin).await.unwrap();
    let public = |verb: &str| {
        format!(
            "{verb} TEMPORARY ON DATABASE \"{database}\" {} PUBLIC",
            if verb == "GRANT" { "TO" } else { "FROM" }
        )
    };
    sqlx::query(sqlx::AssertSqlSafe(public("REVOKE"))).execute(&admin).await.unwrap();

    for args in [&["migrate"][..], &crate::helpers::bootstrap_args("000000")] {
        let out = pcis(d, Some(&owner), args);
        assert!(out.status.success(), "{}", text(&out));
    }
    let printed = pcis(d, Some(&owner), &["grants", "--app-role", &role]);
    assert!(printed.status.success(), "{}", text(&printed));
    assert!(
        text(&printed).contains(&format!("TEMPORARY ON DATABASE \"{database}\" TO {role};")),
        "{}",
        text(&printed)
    );
    let applied = pcis(d, Some(&owner), &["grants", "--app-role", &role, "--apply"]);
    assert!(applied.status.success(), "{}", text(&applied));
    let audited: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'database.grants'")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    let app = owner.replacen("postgres@", &format!("{role}@"), 1);
    let inbox = d.join("inbox");
    let generated =
        pcis(d, None, &["gen", "--customers", "300", "--out", inbox.join("2026-12-04").to_str().unwrap()]);
    assert!(generated.status.success(), "{}", text(&generated));
    let nightly =
        pcis(d, Some(&app), &["nightly", "--inbox", inbox.to_str().unwrap(), "--date", "2026-12-05"]);
    assert!(nightly.status.success(), "{}", text(&nightly));
    assert!(text(&nightly).contains("nightly 2026-12-05: done"), "{}", text(&nightly));

    assert!(pcis(d, Some(&app), &["keys", "add"]).status.success());
    let rotate = pcis(d, Some(&app), &["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", text(&rotate));
    assert!(!text(&rotate).contains("re-sealed 0 of 0"), "{}", text(&rotate));
    let verify = pcis(d, Some(&app), &["audit", "verify"]);
    assert!(verify.status.success(), "{}", text(&verify));

    let as_app = sqlx::PgPool::connect(&app).await.unwrap();
    for forbidden in
        ["DELETE FROM audit_log", "UPDATE audit_log SET action = 'x'", "CREATE TABLE intruder (x INT)"]
    {
        let e = sqlx::query(forbidden).execute(&as_app).await.expect_err(forbidden);
        let code = e
            .as_database_error()
            .and_then(sqlx::error::DatabaseError::code)
            .map(std::borrow::Cow::into_owned);
        assert_eq!(code.as_deref(), Some("42501"), "{forbidden}: {e}");
    }
    as_app.close().await;
    sqlx::query(sqlx::AssertSqlSafe(public("GRANT"))).execute(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP OWNED BY {role}"))).execute(&admin).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {role}"))).execute(&admin).await.unwrap();
}

/// Issue 17 (2): a command that touches data names its database; none is made up in the
/// working directory.
#[test]
fn commands_refuse_to_run_without_a_database() {
    let dir = setup();
    for args in [&["keys", "rotate", "--reseal-only"][..], &["migrate"], &["audit", "verify"]] {
        let out = pcis(dir.path(), None, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("no database"), "{args:?}: {}", text(&out));
    }
    assert!(!dir.path().join("pcis.db").exists());
}

/// Grants are PostgreSQL's; on SQLite the command says so.
#[test]
fn grants_on_sqlite_are_refused() {
    let dir = setup();
    let url = format!("sqlite:{}", dir.path().join("pcis.db").display());
    assert!(pcis(dir.path(), Some(&url), &["migrate"]).status.success());
    let out = pcis(dir.path(), Some(&url), &["grants", "--app-role", "pcis_app"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("PostgreSQL only"), "{}", text(&out));
}

both_backends!(the_audit_records_the_client_a_trusted_proxy_names);

/// Issue 17 (5): behind a proxy the configuration trusts, the audit log records the client
/// that proxy names; from anyone else, `X-Forwarded-For` is ignored.
async fn the_audit_records_the_client_a_trusted_proxy_names(b: Backend) {
    let loopback: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    for (proxies, recorded) in [(vec![loopback], "203.0.113.9"), (vec![], "127.0.0.1")] {
        let Some(app) = spawn_app_behind(b, SecurityConfig::default(), proxies).await else { return };
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", "10.9.9.9, 203.0.113.9".parse().unwrap());
        let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
        let mut api = Api { base: app.base.clone(), http, token: None };
        api.login(&username_of(Role::ReportViewer), "not the password").await;
        let login = app.audit_actions("session.login").await;
        assert_eq!(login.last().expect("the login is audited").entry.who.ip, recorded);
    }
}

/// Issue 17 (5, 6): the packaged nginx site passes `nginx -t` (Debian 12's nginx), and the
/// systemd unit passes `systemd-analyze verify`, each where the tool is installed (CI installs
/// nginx; a run that requires every part fails without it).
#[test]
fn the_packaged_nginx_site_and_systemd_unit_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging");
    let present = |tool: &str| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };

    if present("nginx") && present("openssl") {
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pcis"])
            .args([
                "-keyout",
                d.join("pcis.key").to_str().unwrap(),
                "-out",
                d.join("pcis.crt").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", text(&made));
        let site = std::fs::read_to_string(root.join("nginx-pcis.conf"))
            .unwrap()
            .replace("/etc/nginx/tls/", &format!("{}/", d.display()));
        let conf = format!(
            "pid {0}/nginx.pid;\nerror_log {0}/error.log;\nevents {{}}\nhttp {{\naccess_log off;\n{site}\n}}\n",
            d.display()
        );
        std::fs::write(d.join("nginx.conf"), conf).unwrap();
        let out = std::process::Command::new("nginx")
            .args(["-t", "-c", d.join("nginx.conf").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    } else if crate::helpers::require_all() {
        panic!("nginx and openssl are required (PCIS_TEST_REQUIRE_ALL): apt-get install nginx-light openssl");
    } else {
        crate::helpers::skip("nginx -t (nginx not installed)");
    }

    if present("systemd-analyze") {
        let unit = std::fs::read_to_string(root.join("pcis.service"))
            .unwrap()
            .replace("/usr/local/bin/pcis", env!("CARGO_BIN_EXE_pcis"));
        std::fs::write(d.join("pcis.service"), unit).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .args(["verify", d.join("pcis.service").to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{}", text(&out));
    }
}

/// A self-signed certificate for 127.0.0.1 in `dir` (`NAME.crt`, `NAME.key`), by openssl.
fn self_signed(dir: &Path, name: &str) -> Option<()> {
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=pcis-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args([
            "-keyout",
            dir.join(format!("{name}.key")).to_str()?,
            "-out",
            dir.join(format!("{name}.crt")).to_str()?,
        ])
        .output()
        .ok()?;
    out.status.success().then_some(())
}

/// `curl` over HTTPS trusting only `ca`: the status line and headers.
fn curl_https(url: &str, ca: &Path) -> String {
    let out = std::process::Command::new("curl")
        .args(["-sS", "-D", "-", "-o", "/dev/null", "--cacert", ca.to_str().unwrap(), url])
        .output()
        .expect("run curl");
    text(&out)
}

/// Issue 17 (5): the binary serves HTTPS itself from PEM files named in the configuration,
/// with HSTS, and takes a renewed certificate on SIGHUP without a restart; plain HTTP on a
/// non-loopback address without a trusted proxy is refused.
#[test]
fn the_binary_serves_tls_and_reloads_its_certificate_on_sighup() {
    let dir = setup();
    let d = dir.path();
    if self_signed(d, "first").is_none() || self_signed(d, "renewed").is_none() {
        assert!(!crate::helpers::require_all(), "openssl is required (PCIS_TEST_REQUIRE_ALL)");
        return crate::helpers::skip("TLS serving (openssl not installed)");
    }
    std::fs::copy(d.join("first.crt"), d.join("pcis.crt")).unwrap();
    std::fs::copy(d.join("first.key"), d.join("pcis.key")).unwrap();
    let url = format!("sqlite:{}", d.join("pcis.db").display());
    assert!(pcis(d, Some(&url), &["migrate"]).status.success());
    let config = d.join("pcis.toml");
    std::fs::write(
        &config,
        format!("[tls]\ncertificate = \"{0}/pcis.crt\"\nkey = \"{0}/pcis.key\"\n", d.display()),
    )
    .unwrap();

    let plain = pcis(d, Some(&url), &["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(plain.status.code(), Some(2));
    assert!(text(&plain).contains("refusing plain HTTP"), "{}", text(&plain));

    let keys = d.join("keys.json");
    let mut node = ServedNode::start(
        d,
        &["--config", config.to_str().unwrap(), "--database", &url, "--keys", keys.to_str().unwrap()],
    );
    let base = node.base.clone();
    assert!(base.starts_with("https://"), "{base}");
    let health = format!("{base}/healthz");

    let first = curl_https(&health, &d.join("first.crt"));
    assert!(first.starts_with("HTTP/") && first.contains(" 200"), "{first}");
    assert!(first.to_ascii_lowercase().contains("strict-transport-security: max-age=31536000"), "{first}");
    assert!(
        !curl_https(&health, &d.join("renewed.crt")).contains(" 200"),
        "the renewed one is not served yet"
    );

    std::fs::copy(d.join("renewed.crt"), d.join("pcis.crt")).unwrap();
    std::fs::copy(d.join("renewed.key"), d.join("pcis.key")).unwrap();
    let pid = node.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    assert!(node.lines.any(|l| l.is_ok_and(|l| l.contains("TLS certificate reloaded"))));
    let renewed = curl_https(&health, &d.join("renewed.crt"));
    drop(node);
    assert!(renewed.contains(" 200"), "{renewed}");
}

/// A backup records itself on the schema as it is: it never migrates first, so a backup taken
/// with a newer binary before an upgrade is refused rather than taken of an upgraded database.
#[tokio::test]
async fn a_backup_never_migrates_the_database_it_copies() {
    let dir = setup();
    let d = dir.path();
    let url = format!("sqlite:{}", d.join("pcis.db").display());
    assert!(pcis(d, Some(&url), &["migrate"]).status.success());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 22").execute(&pool).await.unwrap();
    let out = pcis(d, Some(&url), &["backup", "--out", d.join("b.backup").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not this version's"), "{}", text(&out));
    assert!(!d.join("b.backup").exists());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 22")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing was migrated");
}
