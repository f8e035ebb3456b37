//! The browser UI through a real headless Chromium driven over WebDriver (chromedriver):
//! first login with a one-time password, the forced password change with a field error in
//! Chinese, the home page and its role-dependent navigation in both languages, logout, and
//! the security auditor finding the login in the audit log.
//!
//! The WebDriver client is a small one over `reqwest`: fantoccini 0.22 without its TLS
//! features has no public constructor for a plain-HTTP connector (`ClientBuilder::new` wants a
//! `hyper_util` connector, which this crate cannot name without depending on `hyper-util`).
//!
//! Screenshots for people to look at go to `target/screenshots/`; nothing depends on them.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pcis_domain::role::Role;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, skip, spawn_app, username_of};

both_backends!(first_login_password_change_navigation_and_audit);

const WAIT: Duration = Duration::from_secs(15);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

async fn first_login_password_change_navigation_and_audit(b: Backend) {
    let Some(driver_path) = chromedriver_path() else {
        skip("browser tests (no chromedriver)");
        return;
    };
    let Some(app) = spawn_app(b).await else { return };
    let driver = Driver::start(&driver_path);
    let browser = Browser::open(driver).await;
    let shots = Shots::new(b == Backend::Sqlite);

    biz_admin_walkthrough(&app, &browser, &shots).await;
    auditor_sees_the_login(&app, &browser, &shots).await;

    browser.close().await;
}

async fn biz_admin_walkthrough(app: &TestApp, br: &Browser, shots: &Shots) {
    let name = username_of(Role::BizAdmin);
    let otp = &app.passwords[&name];

    // A wrong password: the login page again, with the message and the user name kept.
    br.goto(&format!("{}/login", app.base)).await;
    br.wait_for("html[lang='zh-CN'] #username").await;
    shots.save(br, "01-login").await;
    br.login(&name, "Wrong2026password").await;
    let alert = br.wait_for(".login .alert-danger").await.text().await;
    assert!(alert.contains("用户名或密码错误"), "login failure message: {alert:?}");
    assert_eq!(br.find("#username").await.unwrap().prop("value").await, name);

    // The one-time password forces the password page, with the notice.
    br.login(&name, otp).await;
    br.wait_for_path("/password").await;
    let notice = br.wait_for(".alert-warning").await.text().await;
    assert!(notice.contains("请先修改密码"), "must-change notice: {notice:?}");
    // Every other page sends the user back here until the password is changed.
    br.goto(&format!("{}/users", app.base)).await;
    br.wait_for_path("/password").await;

    // Mismatched confirmation: the error beside the confirmation field, in Chinese.
    br.fill_password_form(otp, PASSWORD, "Different2026pw").await;
    let err = br.wait_for(".field.has-error #confirm_password ~ .field-error").await.text().await;
    assert_eq!(err, "两次输入的新密码不一致。");
    let errors = br.find_all(".field-error").await;
    assert_eq!(errors.len(), 1, "only the confirmation field is in error");
    assert!(br.find(".alert-warning").await.is_some(), "the must-change notice stays");
    shots.save(br, "02-password-error").await;

    // The real change.
    br.fill_password_form(otp, PASSWORD, PASSWORD).await;
    let done = br.wait_for(".alert-success").await.text().await;
    assert!(done.contains("密码已修改"), "success notice: {done:?}");
    assert!(br.find(".alert-warning").await.is_none(), "no must-change notice after the change");
    assert!(br.find(".field-error").await.is_none());

    // Home: the welcome and the navigation of a business administrator.
    br.goto(&format!("{}/", app.base)).await;
    br.wait_for_path("/").await;
    assert_eq!(br.wait_for("main h1").await.text().await, "您好，测试biz_admin");
    let nav = br.nav_labels().await;
    for want in ["工作台", "机构管理", "用户管理", "修改密码"] {
        assert!(nav.iter().any(|l| l == want), "nav {nav:?} lacks {want}");
    }
    assert!(!nav.iter().any(|l| l == "审计日志"), "biz_admin must not see the audit log: {nav:?}");
    let tiles = br.texts(".tiles .tile").await;
    assert_eq!(tiles, ["机构管理", "用户管理"]);
    shots.save(br, "03-home-zh").await;

    // English, then back to Chinese, staying on the same page.
    br.wait_for("a[href^='/lang/en']").await.click().await;
    br.wait_for("html[lang='en'] main h1").await;
    br.wait_for_path("/").await;
    assert_eq!(br.find("main h1").await.unwrap().text().await, "Hello, 测试biz_admin");
    let nav = br.nav_labels().await;
    for want in ["Workbench", "Institutions", "Users", "Change password"] {
        assert!(nav.iter().any(|l| l == want), "English nav {nav:?} lacks {want}");
    }
    assert!(!nav.iter().any(|l| l == "Audit log"));
    let logout = br.find("form[action='/logout'] button").await.unwrap().text().await;
    assert_eq!(logout, "Log out");
    shots.save(br, "04-home-en").await;
    br.wait_for("a[href^='/lang/zh-CN']").await.click().await;
    br.wait_for("html[lang='zh-CN'] main h1").await;
    br.wait_for_path("/").await;
    assert_eq!(br.find("main h1").await.unwrap().text().await, "您好，测试biz_admin");

    // The users list, through the navigation.
    br.wait_for(".sidenav a[href='/users']").await.click().await;
    br.wait_for_path("/users").await;
    br.wait_for("table.table tbody tr").await;
    let rows = br.texts("table.table tbody tr").await;
    assert!(rows.iter().any(|r| r.contains(&name)), "users list {rows:?} lacks {name}");
    let active = br.texts(".sidenav a.active").await;
    assert_eq!(active, ["用户管理"]);
    shots.save(br, "05-users").await;

    // Logout: the login page, and the home page is closed again.
    br.wait_for("form[action='/logout'] button").await.click().await;
    br.wait_for_path("/login").await;
    br.wait_for("#username").await;
    br.goto(&format!("{}/", app.base)).await;
    br.wait_for_path("/login").await;
    assert!(br.find("form[action='/logout']").await.is_none(), "no logout button when logged out");
}

async fn auditor_sees_the_login(app: &TestApp, br: &Browser, shots: &Shots) {
    let name = username_of(Role::SecurityAuditor);
    let otp = &app.passwords[&name];
    br.goto(&format!("{}/login", app.base)).await;
    br.wait_for("#username").await;
    br.login(&name, otp).await;
    br.wait_for_path("/password").await;
    br.wait_for(".alert-warning").await;
    br.fill_password_form(otp, PASSWORD, PASSWORD).await;
    br.wait_for(".alert-success").await;

    let nav = br.nav_labels().await;
    assert!(nav.iter().any(|l| l == "审计日志"), "auditor nav {nav:?} lacks 审计日志");
    assert!(!nav.iter().any(|l| l == "用户管理"), "auditor must not manage users: {nav:?}");
    br.wait_for(".sidenav a[href='/audit']").await.click().await;
    br.wait_for_path("/audit").await;
    br.wait_for("table.table tbody tr").await;
    let rows = br.texts("table.table tbody tr").await;
    let biz = username_of(Role::BizAdmin);
    let logins: Vec<_> = rows.iter().filter(|r| r.contains(&biz) && r.contains("session.login")).collect();
    assert!(logins.iter().any(|r| r.contains("成功")), "no successful login of {biz} in {rows:#?}");
    assert!(logins.iter().any(|r| r.contains("失败")), "no failed login of {biz} in {rows:#?}");
    shots.save(br, "06-audit").await;

    br.wait_for("form[action='/logout'] button").await.click().await;
    br.wait_for_path("/login").await;
}

// ---- chromedriver ----

fn chromedriver_path() -> Option<PathBuf> {
    match std::env::var_os("PCIS_TEST_CHROMEDRIVER") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => Some(PathBuf::from("/usr/bin/chromedriver")).filter(|p| p.exists()),
    }
}

/// A chromedriver child process on a free port; killed (after closing its browser) on drop,
/// also when the test fails half-way.
struct Driver {
    child: Child,
    port: u16,
    session: std::sync::Mutex<Option<String>>,
    profile: tempfile::TempDir,
}

impl Driver {
    fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let profile = tempfile::tempdir().unwrap();
        Driver { child, port, session: std::sync::Mutex::new(None), profile: profile }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Ends the browser session with a plain blocking request, so it works while unwinding.
    fn delete_session(&self) {
        use std::io::{Read, Write};
        let Some(id) = self.session.lock().ok().and_then(|mut s| s.take()) else { return };
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let req = format!(
            "DELETE /session/{id} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        if s.write_all(req.as_bytes()).is_ok() {
            let _ = s.read_to_end(&mut Vec::new());
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.delete_session();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- a minimal WebDriver client ----

#[derive(Debug)]
struct WdError {
    error: String,
    message: String,
}

struct Browser {
    http: reqwest::Client,
    driver: Driver,
    session: String,
}

impl Browser {
    async fn open(mut driver: Driver) -> Browser {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            let status = http.get(format!("{}/status", driver.url())).send().await;
            if let Ok(r) = status
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!("chromedriver exited early: {exit}");
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--window-size=1366,768",
                    format!("--user-data-dir={}", driver.profile.path().display()),
                ],
            },
        }}});
        let r = http.post(format!("{}/session", driver.url())).json(&caps).send().await;
        let v: Value = r.expect("new session").json().await.expect("new session reply");
        let session =
            v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no browser session: {v}")).to_owned();
        *driver.session.lock().unwrap() = Some(session.clone());
        Browser { http, driver, session }
    }

    async fn close(self) {
        let url = format!("{}/session/{}", self.driver.url(), self.session);
        let _ = self.http.delete(url).send().await;
        self.driver.session.lock().unwrap().take();
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, WdError> {
        let url = format!("{}/session/{}{path}", self.driver.url(), self.session);
        let mut req = self.http.request(method.clone(), url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let ok = res.status().is_success();
        let v: Value = res.json().await.unwrap_or_else(|e| panic!("WebDriver {method} {path} reply: {e}"));
        if ok {
            Ok(v["value"].clone())
        } else {
            Err(WdError {
                error: v["value"]["error"].as_str().unwrap_or("").to_owned(),
                message: v["value"]["message"].as_str().unwrap_or("").to_owned(),
            })
        }
    }

    async fn must(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.cmd(method.clone(), path, body)
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e:?}"))
    }

    async fn goto(&self, url: &str) {
        self.must(reqwest::Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    async fn path(&self) -> String {
        let url = self.must(reqwest::Method::GET, "/url", None).await;
        let url = url.as_str().unwrap_or("");
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let path = rest.find('/').map_or("/", |i| &rest[i..]);
        path.split(['?', '#']).next().unwrap_or("/").to_owned()
    }

    async fn wait_for_path(&self, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.path().await;
            if now == want {
                return;
            }
            assert!(Instant::now() < deadline, "waited for {want}, still on {now}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn find(&self, css: &str) -> Option<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        match self.cmd(reqwest::Method::POST, "/element", Some(body)).await {
            Ok(v) => Some(Element { br: self, id: v[ELEMENT_KEY].as_str().unwrap().to_owned() }),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("find {css}: {e:?}"),
        }
    }

    async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let body = json!({ "using": "css selector", "value": css });
        let v = self.must(reqwest::Method::POST, "/elements", Some(body)).await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| Element { br: self, id: e[ELEMENT_KEY].as_str().unwrap().to_owned() })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The element once it is there; fails with the page's address and text after a while.
    async fn wait_for(&self, css: &str) -> Element<'_> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find(css).await {
                return e;
            }
            if Instant::now() >= deadline {
                let page = match self.find("body").await {
                    Some(b) => b.text().await,
                    None => String::new(),
                };
                panic!("no element {css} on {} after {WAIT:?}; the page says:\n{page}", self.path().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.find_all(css).await {
            out.push(e.text().await);
        }
        out
    }

    async fn nav_labels(&self) -> Vec<String> {
        self.texts(".sidenav a").await
    }

    async fn login(&self, username: &str, password: &str) {
        let user = self.wait_for("#username").await;
        user.clear().await;
        user.send_keys(username).await;
        self.find("#password").await.unwrap().send_keys(password).await;
        self.find("form[action='/login'] button[type=submit]").await.unwrap().click().await;
    }

    /// Fills and submits the change-password form; the caller waits for the outcome.
    async fn fill_password_form(&self, current: &str, new: &str, confirm: &str) {
        self.wait_for("#current_password").await.send_keys(current).await;
        self.find("#new_password").await.unwrap().send_keys(new).await;
        self.find("#confirm_password").await.unwrap().send_keys(confirm).await;
        let form = "form[action='/password']";
        // The submit replaces the page: wait until the old form is gone before looking further.
        let old = self.find(form).await.unwrap();
        self.find(&format!("{form} button[type=submit]")).await.unwrap().click().await;
        let deadline = Instant::now() + WAIT;
        while old.is_attached().await {
            assert!(Instant::now() < deadline, "the password form was not submitted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self) -> Vec<u8> {
        let v = self.must(reqwest::Method::GET, "/screenshot", None).await;
        base64_decode(v.as_str().expect("screenshot data"))
    }
}

struct Element<'a> {
    br: &'a Browser,
    id: String,
}

impl Element<'_> {
    async fn call(&self, method: reqwest::Method, what: &str, body: Option<Value>) -> Value {
        self.br.must(method, &format!("/element/{}{what}", self.id), body).await
    }

    async fn click(&self) {
        self.call(reqwest::Method::POST, "/click", Some(json!({}))).await;
    }

    async fn clear(&self) {
        self.call(reqwest::Method::POST, "/clear", Some(json!({}))).await;
    }

    async fn send_keys(&self, text: &str) {
        self.call(reqwest::Method::POST, "/value", Some(json!({ "text": text }))).await;
    }

    async fn text(&self) -> String {
        self.call(reqwest::Method::GET, "/text", None).await.as_str().unwrap_or("").to_owned()
    }

    async fn prop(&self, name: &str) -> String {
        let v = self.call(reqwest::Method::GET, &format!("/property/{name}"), None).await;
        v.as_str().unwrap_or("").to_owned()
    }

    /// False once the page holding the element has been replaced.
    async fn is_attached(&self) -> bool {
        let path = format!("/element/{}/name", self.id);
        match self.br.cmd(reqwest::Method::GET, &path, None).await {
            Ok(_) => true,
            Err(e) if e.error == "stale element reference" || e.error == "no such element" => false,
            Err(e) => panic!("element state: {e:?}"),
        }
    }
}

/// PNG screenshots into `target/screenshots/` (one backend's run only, to keep one set).
struct Shots {
    dir: Option<PathBuf>,
}

impl Shots {
    fn new(enabled: bool) -> Shots {
        let dir = enabled.then(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"));
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).expect("create target/screenshots");
        }
        Shots { dir }
    }

    async fn save(&self, br: &Browser, name: &str) {
        if let Some(d) = &self.dir {
            let png = br.screenshot().await;
            assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
            std::fs::write(d.join(format!("{name}.png")), png).expect("write screenshot");
        }
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
