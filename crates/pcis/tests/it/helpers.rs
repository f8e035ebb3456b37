//! `spawn_app`: the real server on a random port over a fresh database (a temporary SQLite
//! file, or a schema of its own on PostgreSQL), seeded with a small tree and one user per role.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use pcis_domain::role::Role;
use pcis_domain::user::UserInput;
use pcis_service::bootstrap::SeedInstitution;
use pcis_service::{App, Keys, ManualClock, SecurityConfig};
use pcis_store::Db;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test body once per backend, as two `#[test]`s named `sqlite` and `postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )+};
}

pub fn require_all() -> bool {
    std::env::var("PCIS_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Prints why a part is skipped, or fails when CI requires every part.
pub fn skip(what: &str) {
    assert!(!require_all(), "{what} is required (PCIS_TEST_REQUIRE_ALL=1) but not available");
    eprintln!("SKIPPED: {what} (set it up to run this part)");
}

pub const AUDIT_KEY_HEX: &str = "6b6579206f6620746865207465737420617564697420636861696e2031323334";

/// A fresh, migrated database of the backend; `None` when PostgreSQL is not configured.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> Option<String> {
    match backend {
        Backend::Sqlite => Some(format!("sqlite:{}", dir.join("pcis.db").display())),
        Backend::Postgres => {
            let Ok(base) = std::env::var("PCIS_TEST_POSTGRES_URL") else {
                skip("PostgreSQL tests (PCIS_TEST_POSTGRES_URL unset)");
                return None;
            };
            let schema = format!("t_{}", hex_id());
            let admin = Db::connect(&base).await.expect("connect to PostgreSQL");
            let Db::Pg(pool) = &admin else { unreachable!() };
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(pool)
                .await
                .expect("create schema");
            admin.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            Some(format!("{base}{sep}options[search_path]={schema}"))
        }
    }
}

fn hex_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{:x}_{}_{}", nanos, std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub struct TestApp {
    pub base: String,
    pub db_url: String,
    pub app: App,
    pub clock: Arc<ManualClock>,
    /// Holds the temporary files (SQLite database, key file) until the test ends.
    pub _dir: tempfile::TempDir,
    pub key_file: PathBuf,
    /// username → one-time password, for every seeded user.
    pub passwords: HashMap<String, String>,
}

/// The seeded tree: HO → P1 → C1 → S1 → O1, O2 and HO → P2 → C2 → S2 → O3.
pub fn seed_tree() -> Vec<SeedInstitution> {
    let n = |code: &str, name: &str, parent: Option<&str>, kind: &'static str| SeedInstitution {
        code: code.into(),
        name: name.into(),
        parent_code: parent.map(Into::into),
        kind,
    };
    vec![
        n("HO", "总行", None, "management"),
        n("P1", "江苏省分行", Some("HO"), "management"),
        n("C1", "南京分行", Some("P1"), "management"),
        n("S1", "玄武支行", Some("C1"), "management"),
        n("O1", "中山路网点", Some("S1"), "self_run"),
        n("O2", "人民路代理网点", Some("S1"), "agency"),
        n("P2", "浙江省分行", Some("HO"), "management"),
        n("C2", "杭州分行", Some("P2"), "management"),
        n("S2", "西湖支行", Some("C2"), "management"),
        n("O3", "湖滨路网点", Some("S2"), "self_run"),
    ]
}

/// Where each role's test user sits: the administrators at P1 so that HO and P2 are out of
/// their scope.
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::AmSupervisor | Role::AccountManager | Role::DataEntry => "O1",
        Role::VipHead | Role::VipSpecialist | Role::BankLeader | Role::DeptHead | Role::DeptStaff => "C1",
        Role::ReportViewer => "S1",
        _ => "P1",
    }
}

/// The seeded user of a role is named after it, e.g. `sys_admin` → `u_sys_admin`.
pub fn username_of(role: Role) -> String {
    format!("u_{}", role.code())
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, SecurityConfig::default()).await
}

/// Where a test run's logs go, for the personal-data scan of `log_scan` (`scripts/test` sets
/// it); without it nothing is written.
pub fn log_dir() -> Option<PathBuf> {
    std::env::var_os("PCIS_TEST_LOG_DIR").map(PathBuf::from)
}

/// What the scanned logs hold: everything of ours down to debug, the libraries' info.
pub const LOG_FILTER: &str = "debug,sqlx=info,hyper=info,hyper_util=info,h2=info,reqwest=info,tower=info,\
    fantoccini=info,rustls=info,tokio_postgres=info,cookie_store=info";

/// Sends the logs of this test binary (its in-process servers) to the run's log directory.
fn capture_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(dir) = log_dir() else { return };
        std::fs::create_dir_all(&dir).expect("create the test log directory");
        let file = std::fs::File::create(dir.join(format!("it-{}.log", std::process::id())))
            .expect("create the test log file");
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(LOG_FILTER))
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    });
}

/// Keeps a child process's log output with the run's logs.
pub fn keep_child_log(name: &str, output: &[u8]) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    if let Some(dir) = log_dir() {
        std::fs::create_dir_all(&dir).expect("create the test log directory");
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::fs::write(dir.join(format!("{name}-{}-{n}.log", std::process::id())), output)
            .expect("write a child log");
    }
}

pub async fn spawn_app_with(backend: Backend, config: SecurityConfig) -> Option<TestApp> {
    spawn_app_behind(backend, config, Vec::new()).await
}

/// An app whose HTTP layer believes the client address named by these proxies.
pub async fn spawn_app_behind(
    backend: Backend,
    config: SecurityConfig,
    trusted_proxies: Vec<std::net::IpAddr>,
) -> Option<TestApp> {
    let web = pcis_web::WebConfig { secure_cookies: false, trusted_proxies, metrics_token: None };
    spawn_app_serving(backend, config, web).await
}

/// An app serving `/metrics` to this bearer token.
pub async fn spawn_app_with_metrics(backend: Backend, token: &str) -> Option<TestApp> {
    let metrics_token = Some(pcis_web::MetricsToken::new(token));
    let web = pcis_web::WebConfig { secure_cookies: false, trusted_proxies: Vec::new(), metrics_token };
    spawn_app_serving(backend, SecurityConfig::default(), web).await
}

async fn spawn_app_serving(
    backend: Backend,
    config: SecurityConfig,
    web: pcis_web::WebConfig,
) -> Option<TestApp> {
    capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let db_url = fresh_database(backend, dir.path()).await?;
    let key_file = dir.path().join("keys.json");
    std::fs::write(&key_file, test_key_file(AUDIT_KEY_HEX).to_string()).unwrap();
    let db = Db::connect(&db_url).await.expect("connect");
    db.migrate().await.expect("migrate");
    let clock = Arc::new(ManualClock::default());
    let data = pcis_domain::crypto::DataKeys::new(1, [(1, [7u8; 32])].into(), vec![8u8; 32]).unwrap();
    let keys = Keys {
        audit_hmac: Arc::from(hex_decode(AUDIT_KEY_HEX)),
        data: Arc::new(pcis_service::key_ring::KeyRing::fixed(data)),
    };
    let app = App::new(db, config, keys, clock.clone()).await.expect("app");
    app.seed_institutions(&seed_tree()).await.expect("seed tree");
    let mut passwords = HashMap::new();
    for (i, role) in Role::ALL.iter().enumerate() {
        let input = UserInput {
            username: username_of(*role),
            display_name: format!("测试{}", role.code()),
            staff_no: format!("T{:03}", i + 1),
            institution_code: home_of(*role).into(),
            roles: vec![role.code().into()],
        };
        let otp = app.provision_user(&input).await.expect("provision");
        passwords.insert(username_of(*role), otp);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = pcis_web::router(app.clone(), web);
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .unwrap();
    });
    Some(TestApp { base: format!("http://{addr}"), db_url, app, clock, _dir: dir, key_file, passwords })
}

/// A key file with the given audit key and the data keys `spawn_app` uses.
pub fn test_key_file(audit_hex: &str) -> Value {
    json!({
        "audit_hmac": audit_hex,
        "data_keys": { "1": "07".repeat(32) },
        "active_data_key": 1,
        "blind_index": "08".repeat(32),
    })
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The password every test user has after its first login.
pub const PASSWORD: &str = "Changed2026pw";

/// A JSON API client holding a bearer token.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Api {
    pub fn anonymous(app: &TestApp) -> Api {
        Api { base: app.base.clone(), http: reqwest::Client::new(), token: None }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn login(&mut self, username: &str, password: &str) -> Reply {
        let r = self.post("/api/v1/session", json!({ "username": username, "password": password })).await;
        self.token = r.body["token"].as_str().map(str::to_owned);
        r
    }
}

impl TestApp {
    /// Logs in as the role's user, changing the one-time password on the first login.
    pub async fn api_as(&self, role: Role) -> Api {
        self.api_as_user(&username_of(role)).await
    }

    pub async fn api_as_user(&self, username: &str) -> Api {
        self.api_with_otp(username, &self.passwords[username]).await
    }

    /// Logs in as a user whose one-time password is `otp`, changing it on the first login.
    pub async fn api_with_otp(&self, username: &str, otp: &str) -> Api {
        let mut api = Api::anonymous(self);
        let r = api.login(username, PASSWORD).await;
        if r.status == StatusCode::CREATED {
            return api;
        }
        let r = api.login(username, otp).await;
        assert_eq!(r.status, StatusCode::CREATED, "login {username}: {:?}", r.body);
        let r = api
            .post(
                "/api/v1/me/password",
                json!({ "current_password": otp, "new_password": PASSWORD, "confirm_password": PASSWORD }),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "change password {username}: {:?}", r.body);
        api
    }

    /// Provisions a user outside the API (the test administrators cannot reach every
    /// institution) and returns its id and one-time password.
    pub async fn provision(&self, username: &str, staff_no: &str, at: &str, role: Role) -> (i64, String) {
        let input = UserInput {
            username: username.into(),
            display_name: "测试用户".into(),
            staff_no: staff_no.into(),
            institution_code: at.into(),
            roles: vec![role.code().into()],
        };
        let otp = self.app.provision_user(&input).await.expect("provision");
        (self.user_id(username).await, otp)
    }

    /// The id of an institution by code.
    pub async fn institution_id(&self, code: &str) -> i64 {
        let mut tx = self.app.db.begin_read().await.unwrap();
        pcis_store::institutions::get_by_code(&mut tx, code).await.unwrap().unwrap().id.0
    }

    /// The id of a user by name.
    pub async fn user_id(&self, username: &str) -> i64 {
        let mut tx = self.app.db.begin_read().await.unwrap();
        pcis_store::users::login_info_by_name(&mut tx, username).await.unwrap().unwrap().id
    }

    /// Audit records matching an action, newest first, read straight from storage.
    pub async fn audit_actions(&self, action: &str) -> Vec<pcis_domain::audit::AuditRecord> {
        let mut tx = self.app.db.begin_read().await.unwrap();
        let filter = pcis_store::audit::AuditFilter { action: action.into(), ..Default::default() };
        let all = pcis_store::listing::Listing { per_page: 1000, ..pcis_store::audit::AuditSort::USUAL };
        pcis_store::audit::search(&mut tx, &pcis_domain::policy::ScopeFilter::All, &filter, &all)
            .await
            .unwrap()
            .items
    }

    /// Runs the real `pcis` binary against this app's database and key file.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"))
            .args(["--database", &self.db_url, "--keys", self.key_file.to_str().unwrap()])
            .args(args)
            .env_remove("PCIS_KEYS")
            .env("PCIS_LOG", LOG_FILTER)
            .output()
            .expect("run pcis");
        keep_child_log("cli", &out.stderr);
        out
    }
}

/// A browser: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The value of the page's hidden `_csrf` input.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"name="_csrf" value=""#;
    let start = html.find(marker).unwrap_or_else(|| panic!("no _csrf input in: {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Logs the role's user in through the login form (its password already changed) and returns
/// the browser with the session cookie and the session's CSRF token.
pub async fn ui_login(app: &TestApp, role: Role) -> (reqwest::Client, String) {
    app.api_as(role).await;
    let web = browser();
    let page = web.get(format!("{}/login", app.base)).send().await.unwrap().text().await.unwrap();
    let form = [("_csrf", csrf_of(&page)), ("username", username_of(role)), ("password", PASSWORD.into())];
    let res = web.post(format!("{}/login", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let home = web.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let token = csrf_of(&home.text().await.unwrap());
    (web, token)
}

/// The real `pcis` binary run in `dir` with `args` alone: nothing from the caller's
/// environment (database, configuration, keys, libpq's TLS settings), its log kept as `log`.
pub fn pcis_in(dir: &std::path::Path, log: &str, args: &[&str]) -> std::process::Output {
    let out = pcis_command(dir, args).output().expect("run pcis");
    keep_child_log(log, &out.stderr);
    out
}

fn pcis_command(dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pcis"));
    command.current_dir(dir).args(args).env("PCIS_LOG", LOG_FILTER);
    for inherited in ["PCIS_KEYS", "PCIS_DATABASE_URL", "PCIS_CONFIG", "PGSSLROOTCERT", "PGSSLMODE"] {
        command.env_remove(inherited);
    }
    command
}

/// Standard output and error of a run, for assertions.
pub fn output_text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A `pcis serve` process (its arguments before `serve --listen 127.0.0.1:0`); killed on drop.
pub struct ServedNode {
    pub child: std::process::Child,
    /// `http://…` or `https://…`, as the node printed it.
    pub base: String,
    /// The rest of the node's standard output.
    pub lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl ServedNode {
    pub fn start(dir: &std::path::Path, args: &[&str]) -> ServedNode {
        use std::io::BufRead;
        let mut child = pcis_command(dir, args)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PCIS_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start pcis serve");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let base = lines
            .find_map(|l| l.ok()?.strip_prefix("PCIS listening on ").map(str::to_owned))
            .expect("the node prints its address");
        ServedNode { child, base, lines }
    }
}

impl Drop for ServedNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The arguments of `pcis bootstrap` for a head office `code` and the administrator `admin`.
pub fn bootstrap_args(code: &str) -> [&str; 11] {
    [
        "bootstrap",
        "--head-office-code",
        code,
        "--head-office-name",
        "总行",
        "--admin-username",
        "admin",
        "--admin-name",
        "管理员",
        "--admin-staff-no",
        "A001",
    ]
}
