//! The browser UI through a real headless Chromium driven over WebDriver (chromedriver, with
//! the `fantoccini` client): first login with a one-time password, the forced password change
//! with a field error in Chinese, the home page and its role-dependent navigation in both
//! languages, logout, and the security auditor finding the login in the audit log.
//!
//! Screenshots for people to look at go to `target/screenshots/`; nothing depends on them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use pcis_domain::role::Role;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, TestApp, skip, spawn_app, username_of};

both_backends!(first_login_password_change_navigation_and_audit, customer_change_from_search_to_approval);

const WAIT: Duration = Duration::from_secs(15);

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
    let alert = br.text(".login .alert-danger").await;
    assert!(alert.contains("用户名或密码错误"), "login failure message: {alert:?}");
    assert_eq!(br.value("#username").await, name);

    // The one-time password forces the password page, with the notice.
    br.login(&name, otp).await;
    br.wait_for_path("/password").await;
    let notice = br.text(".alert-warning").await;
    assert!(notice.contains("请先修改密码"), "must-change notice: {notice:?}");
    // Every other page sends the user back here until the password is changed.
    br.goto(&format!("{}/users", app.base)).await;
    br.wait_for_path("/password").await;

    // Mismatched confirmation: the error beside the confirmation field, in Chinese.
    br.fill_password_form(otp, PASSWORD, "Different2026pw").await;
    let err = br.text(".field.has-error #confirm_password ~ .field-error").await;
    assert_eq!(err, "两次输入的新密码不一致。");
    let errors = br.find_all(".field-error").await;
    assert_eq!(errors.len(), 1, "only the confirmation field is in error");
    assert!(br.find(".alert-warning").await.is_some(), "the must-change notice stays");
    shots.save(br, "02-password-error").await;

    // The real change.
    br.fill_password_form(otp, PASSWORD, PASSWORD).await;
    let done = br.text(".alert-success").await;
    assert!(done.contains("密码已修改"), "success notice: {done:?}");
    assert!(br.find(".alert-warning").await.is_none(), "no must-change notice after the change");
    assert!(br.find(".field-error").await.is_none());

    // Home: the welcome and the navigation of a business administrator.
    br.goto(&format!("{}/", app.base)).await;
    br.wait_for_path("/").await;
    assert_eq!(br.text("main h1").await, "您好，测试biz_admin");
    let nav = br.nav_labels().await;
    for want in ["工作台", "机构管理", "用户管理", "修改密码"] {
        assert!(nav.iter().any(|l| l == want), "nav {nav:?} lacks {want}");
    }
    assert!(!nav.iter().any(|l| l == "审计日志"), "biz_admin must not see the audit log: {nav:?}");
    let tiles = br.texts(".tiles .tile").await;
    assert_eq!(tiles, ["机构管理", "用户管理", "数据装载记录", "业务参数"]);
    shots.save(br, "03-home-zh").await;

    // English, then back to Chinese, staying on the same page.
    br.click("a[href^='/lang/en']").await;
    br.wait_for("html[lang='en'] main h1").await;
    br.wait_for_path("/").await;
    assert_eq!(br.text("main h1").await, "Hello, 测试biz_admin");
    let nav = br.nav_labels().await;
    for want in ["Workbench", "Institutions", "Users", "Change password"] {
        assert!(nav.iter().any(|l| l == want), "English nav {nav:?} lacks {want}");
    }
    assert!(!nav.iter().any(|l| l == "Audit log"));
    assert_eq!(br.text("form[action='/logout'] button").await, "Log out");
    shots.save(br, "04-home-en").await;
    br.click("a[href^='/lang/zh-CN']").await;
    br.wait_for("html[lang='zh-CN'] main h1").await;
    br.wait_for_path("/").await;
    assert_eq!(br.text("main h1").await, "您好，测试biz_admin");

    // The users list, through the navigation.
    br.click(".sidenav a[href='/users']").await;
    br.wait_for_path("/users").await;
    br.wait_for("table.table tbody tr").await;
    let rows = br.texts("table.table tbody tr").await;
    assert!(rows.iter().any(|r| r.contains(&name)), "users list {rows:?} lacks {name}");
    let active = br.texts(".sidenav a.active").await;
    assert_eq!(active, ["用户管理"]);
    shots.save(br, "05-users").await;

    // The other administration pages render for the role (looked at as screenshots).
    br.click(".sidenav a[href='/institutions']").await;
    br.wait_for("table.table tbody tr").await;
    // The tree opens folded below the sub-branches; the filter finds an outlet and keeps its
    // ancestors in view.
    let outlet = "table.tree tr[data-depth='3']";
    assert!(!ok("outlet shown", br.wait_for(outlet).await.is_displayed().await), "outlets start folded");
    br.type_into("#tree-filter", "中山路").await;
    assert!(br.texts("table.table tbody tr").await.iter().any(|r| r.contains("中山路网点")));
    let shown = br.texts("table.tree tbody tr").await.into_iter().filter(|r| !r.is_empty()).count();
    assert_eq!(shown, 4, "the match and its three ancestors");
    shots.save(br, "07-institutions").await;
    br.goto(&format!("{}/users/new", app.base)).await;
    br.wait_for("form[action='/users'] #username").await;
    shots.save(br, "08-user-new").await;
    let id = app.user_id("u_account_manager").await;
    br.goto(&format!("{}/users/{id}", app.base)).await;
    br.wait_for("form[action$='/account']").await;
    shots.save(br, "09-user-detail").await;

    // Logout: the login page, and the home page is closed again.
    br.click("form[action='/logout'] button").await;
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
    br.click(".sidenav a[href='/audit']").await;
    br.wait_for_path("/audit").await;
    br.wait_for("table.table tbody tr").await;
    shots.save(br, "06-audit").await;

    let rows = br.texts("table.table tbody tr").await;
    let own = rows.iter().any(|r| r.contains(&name) && r.contains("user.change_password"));
    assert!(own, "the auditor's own password change is not listed: {rows:#?}");
    // The business administrator's logins, the failed one and the successful one.
    let biz = username_of(Role::BizAdmin);
    let logins: Vec<_> = rows.iter().filter(|r| r.contains(&biz) && r.contains("session.login")).collect();
    assert!(logins.iter().any(|r| r.contains("成功")), "no successful login of {biz} in {rows:#?}");
    assert!(logins.iter().any(|r| r.contains("失败")), "no failed login of {biz} in {rows:#?}");
    // Targets are named and details are labelled fields, not `user:7` or JSON.
    assert!(rows.iter().all(|r| !r.contains("{\"") && !r.contains("user:")), "{rows:#?}");
    let named = format!("用户 测试security_auditor ({name})");
    assert!(rows.iter().any(|r| r.contains(&named)), "no target named {named} in {rows:#?}");

    // The auditor also reviews who may do what.
    br.click(".sidenav a[href='/roles']").await;
    br.wait_for("table.matrix tbody tr").await;
    assert_eq!(br.find_all("table.matrix tbody tr").await.len(), Role::ALL.len());
    // The whole matrix fits the 1366 px window: no horizontal scroll.
    let widths = ok(
        "page widths",
        br.client.execute("return [document.documentElement.scrollWidth, window.innerWidth];", vec![]).await,
    );
    let (page, window) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    assert!(page <= window, "the roles page is {page} px wide in a {window} px window");
    shots.save(br, "10-roles").await;

    br.click("form[action='/logout'] button").await;
    br.wait_for_path("/login").await;
}

/// R-CUS-6/7, R-PRV-2 in the browser: an account manager finds a customer by mobile number,
/// opens the 360, reveals the mobile with a reason and proposes a change; the outlet
/// supervisor approves it from the to-do list; the manager sees the change.
async fn customer_change_from_search_to_approval(b: Backend) {
    let Some(driver_path) = chromedriver_path() else {
        skip("browser tests (no chromedriver)");
        return;
    };
    let Some(app) = spawn_app(b).await else { return };
    let id = crate::customers::seed(&app).await;
    app.api_as(Role::AmSupervisor).await;
    let driver = Driver::start(&driver_path);
    let br = Browser::open(driver).await;
    let shots = Shots::new(b == Backend::Sqlite);
    let manager = username_of(Role::AccountManager);

    // Search by the full mobile number: one row, masked.
    br.goto(&format!("{}/login", app.base)).await;
    br.login(&manager, PASSWORD).await;
    br.wait_for_path("/").await;
    br.click(".sidenav a[href='/customers']").await;
    br.wait_for_path("/customers").await;
    br.type_into("input[name=q]", "13812345678").await;
    br.click("form.filterbar button[type=submit]").await;
    // The list before the search has rows too: wait for the page of the search itself.
    br.wait_for_query("q=13812345678").await;
    br.wait_for("td.ops a").await;
    let rows = br.texts("table.table tbody tr").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].contains("张**") && rows[0].contains("C000000001"), "{rows:?}");
    shots.save(&br, "11-customer-search").await;

    // The 360: masked by default, with the reason access is granted.
    br.click("td.ops a").await;
    br.wait_for_path(&format!("/customers/{id}")).await;
    assert!(br.text(".basis").await.contains("您是该客户的客户经理"));
    let contacts = br.text(".card:nth-of-type(2) dl.facts").await;
    assert!(contacts.contains("138****5678"), "{contacts}");
    assert!(!page_source(&br).await.contains("13812345678"));
    shots.save(&br, "12-customer-360").await;

    // Reveal the mobile with a reason: only that field is shown in full.
    let reveal = "details.reveal:has(input[name=field][value=mobile])";
    br.click(&format!("{reveal} summary")).await;
    br.click(&format!("{reveal} button[type=submit]")).await;
    br.wait_for(".alert-success").await;
    assert_eq!(br.text(".revealed").await, "13812345678");
    let html = page_source(&br).await;
    assert!(!html.contains("11010519491231002X") && !html.contains("6222021234567890128"));
    shots.save(&br, "13-customer-revealed").await;

    // Two fields in one step: one form, one reason, each value shown and named. (From the
    // plain address, so that waiting for `shown=1` waits for the new page.)
    br.goto(&format!("{}/customers/{id}", app.base)).await;
    br.wait_for_path(&format!("/customers/{id}")).await;
    br.click("#reveal-many summary").await;
    br.click("#reveal-many input[value=id_number]").await;
    br.click("#reveal-many input[value=address]").await;
    br.click("#reveal-many button[type=submit]").await;
    br.wait_for_query("shown=1").await;
    let revealed = br.texts(".revealed").await;
    assert_eq!(revealed, ["11010519491231002X", "北京市朝阳区建国路88号"], "{revealed:?}");
    assert!(br.text(".alert-success").await.contains("证件号码、地址"));
    shots.save(&br, "13b-customer-revealed-two").await;

    // Propose a change: a bad mobile first (the rule, in Chinese, beside the field), then a good one.
    br.click(&format!("a[href='/customers/{id}/change']")).await;
    br.wait_for_path(&format!("/customers/{id}/change")).await;
    br.type_into("#f-occupation", "教师").await;
    br.type_into("#f-mobile", "1390000").await;
    br.click("form.form-grid button[type=submit]").await;
    let err = br.text(".has-error #f-mobile ~ .field-error").await;
    assert!(err.contains("手机号码须为 11 位"), "{err}");
    assert_eq!(br.value("#f-occupation").await, "教师", "the form keeps what was typed");
    shots.save(&br, "14-customer-change-error").await;
    ok("clear mobile", br.wait_for("#f-mobile").await.clear().await);
    br.type_into("#f-mobile", "13900001234").await;
    br.click("form.form-grid button[type=submit]").await;
    br.wait_for_path(&format!("/customers/{id}")).await;
    assert!(br.text(".alert-success").await.contains("等待网点客户经理主管审核"));
    let identity = br.text("dl.facts:not(.inline-facts)").await;
    assert!(!identity.contains("教师"), "nothing changes before the approval");
    br.click("form[action='/logout'] button").await;
    br.wait_for_path("/login").await;

    // The supervisor: the to-do, the queue with masked before/after, the approval.
    br.login(&username_of(Role::AmSupervisor), PASSWORD).await;
    br.wait_for_path("/").await;
    let todo = br.text("ul.todo").await;
    assert!(todo.contains("待审核的客户信息变更"), "{todo}");
    br.click("ul.todo a[href^='/proposals']").await;
    br.wait_for("section.proposal").await;
    let proposal = br.text("section.proposal").await;
    assert!(
        proposal.contains("139****1234") && proposal.contains("138****5678") && proposal.contains("教师")
    );
    shots.save(&br, "15-proposals").await;
    // The full before → after, on request, after a plain-words confirmation.
    br.click("form.review-form button").await;
    let question = br.dialog_text().await;
    assert!(question.contains("用途：审核"), "{question}");
    ok("accept", br.client.accept_alert().await);
    br.wait_for("table.changes.full").await;
    let full = br.text("table.changes.full").await;
    assert!(full.contains("13812345678") && full.contains("13900001234"), "{full}");
    shots.save(&br, "15b-proposal-reviewed").await;
    br.type_into("form.decision input[name=comment]", "已核实").await;
    // Approving cannot be undone: the browser asks first, in plain words; "cancel" changes
    // nothing, "OK" approves.
    br.click("form.decision button[value=approve]").await;
    let question = br.dialog_text().await;
    assert!(question.contains("批准后变更立即写入客户信息") && question.contains("不能撤销"), "{question}");
    ok("dismiss", br.client.dismiss_alert().await);
    assert!(br.find("form.decision").await.is_some(), "still pending after cancel");
    assert!(br.text("section.proposal").await.contains("待审核"));
    br.click("form.decision button[value=approve]").await;
    br.dialog_text().await;
    ok("accept", br.client.accept_alert().await);
    br.wait_for(".alert-success").await;
    assert!(br.find("form.decision").await.is_none(), "nothing left to decide");
    br.click("form[action='/logout'] button").await;
    br.wait_for_path("/login").await;

    // The manager sees the change.
    br.login(&manager, PASSWORD).await;
    br.wait_for_path("/").await;
    br.goto(&format!("{}/customers/{id}", app.base)).await;
    let identity = br.text("dl.facts:not(.inline-facts)").await;
    assert!(identity.contains("教师"), "{identity}");
    let html = page_source(&br).await;
    assert!(html.contains("139****1234") && !html.contains("13900001234"));
    br.close().await;
}

async fn page_source(br: &Browser) -> String {
    ok("page source", br.client.source().await)
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
    /// The browser session to end on drop; `None` once it has been closed normally.
    session: Option<String>,
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
        Driver { child, port, session: None, profile }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until chromedriver accepts connections.
    async fn ready(&mut self) {
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("chromedriver exited early: {exit}");
            }
            assert!(Instant::now() < deadline, "chromedriver did not start listening");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the browser session with a plain blocking request, so it works while unwinding.
    fn delete_session(&mut self) {
        let Some(id) = self.session.take() else { return };
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

// ---- the browser, through fantoccini ----

/// Unwraps a WebDriver reply, saying what was being done when it failed.
fn ok<T>(what: &str, r: Result<T, CmdError>) -> T {
    r.unwrap_or_else(|e| panic!("WebDriver {what}: {e}"))
}

struct Browser {
    client: Client,
    driver: Driver,
}

impl Browser {
    async fn open(mut driver: Driver) -> Browser {
        driver.ready().await;
        let caps = json!({
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
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}"));
        driver.session = ok("session id", client.session_id().await);
        Browser { client, driver }
    }

    async fn close(self) {
        let Browser { client, mut driver } = self;
        ok("close", client.close().await);
        driver.session = None;
    }

    async fn goto(&self, url: &str) {
        ok(&format!("goto {url}"), self.client.goto(url).await);
    }

    async fn path(&self) -> String {
        ok("current url", self.client.current_url().await).path().to_owned()
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

    /// Waits until the current address's query contains `part`.
    async fn wait_for_query(&self, part: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = ok("current url", self.client.current_url().await);
            if url.query().is_some_and(|q| q.contains(part)) {
                return;
            }
            assert!(Instant::now() < deadline, "waited for ?…{part}…, still on {url}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn find(&self, css: &str) -> Option<Element> {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => Some(e),
            Err(e) if e.is_no_such_element() => None,
            Err(e) => panic!("find {css}: {e}"),
        }
    }

    async fn find_all(&self, css: &str) -> Vec<Element> {
        ok(&format!("find all {css}"), self.client.find_all(Locator::Css(css)).await)
    }

    /// The element once it is there; fails with the page's address and text after a while.
    async fn wait_for(&self, css: &str) -> Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(CmdError::WaitTimeout) => {
                let page = match self.find("body").await {
                    Some(b) => b.text().await.unwrap_or_default(),
                    None => String::new(),
                };
                panic!("no element {css} on {} after {WAIT:?}; the page says:\n{page}", self.path().await);
            }
            Err(e) => panic!("wait for {css}: {e}"),
        }
    }

    /// The text of the confirmation the page opened, once it is open.
    async fn dialog_text(&self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client.get_alert_text().await {
                Ok(text) => return text,
                Err(e) if Instant::now() >= deadline => panic!("no dialog opened: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn click(&self, css: &str) {
        ok(&format!("click {css}"), self.wait_for(css).await.click().await);
    }

    async fn text(&self, css: &str) -> String {
        ok(&format!("text of {css}"), self.wait_for(css).await.text().await)
    }

    async fn value(&self, css: &str) -> String {
        ok(&format!("value of {css}"), self.wait_for(css).await.prop("value").await).unwrap_or_default()
    }

    async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.find_all(css).await {
            out.push(ok(&format!("text of {css}"), e.text().await));
        }
        out
    }

    async fn nav_labels(&self) -> Vec<String> {
        self.texts(".sidenav a").await
    }

    async fn type_into(&self, css: &str, text: &str) {
        ok(&format!("type into {css}"), self.wait_for(css).await.send_keys(text).await);
    }

    async fn login(&self, username: &str, password: &str) {
        ok("clear #username", self.wait_for("#username").await.clear().await);
        self.type_into("#username", username).await;
        self.type_into("#password", password).await;
        self.click("form[action='/login'] button[type=submit]").await;
    }

    /// Fills and submits the change-password form; the caller waits for the outcome.
    async fn fill_password_form(&self, current: &str, new: &str, confirm: &str) {
        self.type_into("#current_password", current).await;
        self.type_into("#new_password", new).await;
        self.type_into("#confirm_password", confirm).await;
        let form = "form[action='/password']";
        // The submit replaces the page: wait until the old form is gone before looking further.
        let old = self.wait_for(form).await;
        self.click(&format!("{form} button[type=submit]")).await;
        let deadline = Instant::now() + WAIT;
        while is_attached(&old).await {
            assert!(Instant::now() < deadline, "the password form was not submitted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The whole page as PNG: the window is stretched to the page's height for the shot, as
    /// WebDriver only captures what is in the window.
    async fn screenshot(&self) -> Vec<u8> {
        let js = "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight";
        let height = ok("page height", self.client.execute(js, vec![]).await).as_u64().unwrap_or(0);
        let (width, before) = ok("window size", self.client.get_window_size().await);
        let resize = |h: u64| self.client.set_window_size(width as u32, h as u32);
        ok("stretch window", resize(height.max(before)).await);
        let png = ok("screenshot", self.client.screenshot().await);
        ok("restore window", resize(before).await);
        png
    }
}

/// False once the page holding the element has been replaced. Any other answer (the driver
/// can report transient errors while the new page loads) means "not yet"; the caller's
/// deadline bounds the wait.
async fn is_attached(e: &Element) -> bool {
    match e.tag_name().await {
        Ok(_) => true,
        Err(e) => !(e.is_stale_element_reference() || e.is_no_such_element()),
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
