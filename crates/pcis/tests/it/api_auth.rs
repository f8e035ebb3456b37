//! Login, lockout, sessions, forced logout and CSRF (R-AUTH-1..3, 5) through the real server.

use pcis_domain::role::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Api, Backend, PASSWORD, spawn_app, username_of};

both_backends!(
    audit_page_with_a_bad_filter_still_needs_the_permission,
    branch_auditor_sees_logins_of_its_subtree,
    language_switch_stays_on_this_site,
    failed_logins_of_unknown_names_reach_the_head_office_auditor,
    every_answer_carries_a_request_id_of_ours,
    failed_logins_and_lockouts_reach_the_auditors_home,
    passwords_expire_and_are_not_reused,
    one_time_password_must_be_changed_first,
    lockout_after_five_failures,
    idle_session_expires,
    forced_logout_ends_sessions
);

async fn one_time_password_must_be_changed_first(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let name = username_of(Role::BizAdmin);
    let mut api = Api::anonymous(&app);
    let r = api.login(&name, &app.passwords[&name]).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["must_change_password"], true);
    let r = api.get("/api/v1/users").await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "password_change_required"));
    // Composition rule, named field.
    let r = api
        .post("/api/v1/me/password", json!({ "current_password": app.passwords[&name], "new_password": "short1", "confirm_password": "short1" }))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["field"], "new_password");
    assert_eq!(r.body["error"]["fields"][0]["rule"], "err.password_too_short");
    // Reusing the current (one-time) password is refused.
    let otp = app.passwords[&name].clone();
    let r = api
        .post(
            "/api/v1/me/password",
            json!({ "current_password": otp, "new_password": otp, "confirm_password": otp }),
        )
        .await;
    assert_eq!(r.body["error"]["fields"][0]["rule"], "err.password_reused", "{:?}", r.body);
    let r = api
        .post(
            "/api/v1/me/password",
            json!({ "current_password": otp, "new_password": PASSWORD, "confirm_password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/v1/users").await.status, StatusCode::OK);
    let me = api.get("/api/v1/me").await.body;
    assert_eq!(me["institution_trail"], "总行 / 江苏省分行", "the full path for the top bar");
    // The old password no longer works; the new one does.
    assert_eq!(Api::anonymous(&app).login(&name, &otp).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(Api::anonymous(&app).login(&name, PASSWORD).await.status, StatusCode::CREATED);
}

async fn lockout_after_five_failures(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let victim = username_of(Role::AccountManager);
    app.api_as(Role::AccountManager).await; // sets the known password
    let mut anon = Api::anonymous(&app);
    let unknown = anon.login("nobody_here", "Wrong12345").await;
    for _ in 0..5 {
        let r = anon.login(&victim, "Wrong12345").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        // One message whether or not the user exists (R-AUTH-2).
        assert_eq!(r.body, unknown.body);
    }
    let r = anon.login(&victim, PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "locked account must refuse the right password");
    assert_eq!(r.body, unknown.body);
    assert_eq!(app.audit_actions("session.lock").await.len(), 1);
    // A business administrator finds the locked account and unlocks it.
    let admin = app.api_as(Role::BizAdmin).await;
    let locked = admin.get("/api/v1/users?locked=1").await;
    let names: Vec<&str> =
        locked.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, [victim.as_str()]);
    let id = app.user_id(&victim).await;
    let r = admin.post(&format!("/api/v1/users/{id}/account"), json!({ "op": "unlock" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(anon.login(&victim, PASSWORD).await.status, StatusCode::CREATED);
    // …or the lock ends by itself after 30 minutes.
    for _ in 0..5 {
        Api::anonymous(&app).login(&victim, "Wrong12345").await;
    }
    assert_eq!(Api::anonymous(&app).login(&victim, PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(Api::anonymous(&app).login(&victim, PASSWORD).await.status, StatusCode::CREATED);
}

async fn idle_session_expires(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::SysAdmin).await;
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK);
    app.clock.advance(time::Duration::minutes(14));
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK, "activity keeps the session");
    app.clock.advance(time::Duration::minutes(16));
    let r = api.get("/api/v1/me").await;
    assert_eq!((r.status, r.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
    assert!(!app.audit_actions("session.expire").await.is_empty());
    // Absolute lifetime: active every 10 minutes, still ends after 8 hours.
    let api = app.api_as(Role::SysAdmin).await;
    for _ in 0..48 {
        app.clock.advance(time::Duration::minutes(10));
        if api.get("/api/v1/me").await.status != StatusCode::OK {
            break;
        }
    }
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

async fn forced_logout_ends_sessions(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let victim = app.api_as(Role::DeptHead).await;
    let second = app.api_as(Role::DeptHead).await;
    let admin = app.api_as(Role::BizAdmin).await;
    let id = app.user_id(&username_of(Role::DeptHead)).await;
    let r = admin.post(&format!("/api/v1/users/{id}/account"), json!({ "op": "force_logout" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a reason is required");
    assert_eq!(r.body["error"]["field"], "reason");
    let r = admin
        .post(&format!("/api/v1/users/{id}/account"), json!({ "op": "force_logout", "reason": "离岗" }))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(victim.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(second.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    // Freezing also ends sessions and refuses new logins.
    let victim = app.api_as(Role::DeptHead).await;
    let r =
        admin.post(&format!("/api/v1/users/{id}/account"), json!({ "op": "freeze", "reason": "调离" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(victim.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        Api::anonymous(&app).login(&username_of(Role::DeptHead), PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // An administrator cannot act on their own account.
    let own = app.user_id(&username_of(Role::BizAdmin)).await;
    let r =
        admin.post(&format!("/api/v1/users/{own}/account"), json!({ "op": "freeze", "reason": "x" })).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("deny.self_action"))
    );
}

/// Login records carry the user's institution, so an auditor below head office sees the
/// logins, failures and locks of its own subtree (and nothing above or beside it).
async fn branch_auditor_sees_logins_of_its_subtree(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    app.api_as(Role::DeptHead).await;
    Api::anonymous(&app).login(&username_of(Role::DeptHead), "Wrong12345").await;
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let r = auditor
        .get(&format!("/api/v1/audit?action=session.login&username={}", username_of(Role::DeptHead)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let outcomes: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"success") && outcomes.contains(&"failed"), "{outcomes:?}");
    let record = &r.body["items"][0];
    assert_eq!(record["who"]["roles"], "dept_head");
    assert!(record["who"]["institution_id"].is_i64());
}

/// Password spraying is reviewable: a failed login under a name nobody has carries no
/// institution, and the head office's auditor (whose subtree is the whole tree) sees it; a
/// branch auditor does not.
async fn failed_logins_of_unknown_names_reach_the_head_office_auditor(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    Api::anonymous(&app).login("no_such_user", "Guess12345").await;
    let (_, otp) = app.provision("ho_auditor", "HOA1", "HO", Role::SecurityAuditor).await;
    let path = "/api/v1/audit?action=session.login&username=no_such_user";
    let head = app.api_with_otp("ho_auditor", &otp).await.get(path).await;
    assert_eq!(head.status, StatusCode::OK);
    let items = head.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["outcome"], "failed");
    assert!(items[0]["who"]["institution_id"].is_null());
    let branch = app.api_as(Role::SecurityAuditor).await.get(path).await;
    assert_eq!(branch.body["items"].as_array().unwrap().len(), 0, "P1's auditor sees only its subtree");
}

/// Every answer names its request id (the key to its log lines); one a client sends is not
/// taken over.
async fn every_answer_carries_a_request_id_of_ours(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let http = reqwest::Client::new();
    let mut seen = std::collections::HashSet::new();
    for path in ["/login", "/api/v1/me", "/no-such-page"] {
        let r = http
            .get(format!("{}{path}", app.base))
            .header("x-request-id", "forged-by-client")
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()), "{path}: {id}");
        assert!(seen.insert(id), "ids are not reused");
    }
}

/// Guessing shows on the auditor's home: the last day's failed logins and lockouts in its
/// scope, each linked to the records; a day later they are gone from the home page.
async fn failed_logins_and_lockouts_reach_the_auditors_home(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let victim = username_of(Role::AccountManager);
    app.api_as(Role::AccountManager).await;
    for _ in 0..5 {
        Api::anonymous(&app).login(&victim, "Wrong12345").await;
    }
    let (web, _) = crate::helpers::ui_login(&app, Role::SecurityAuditor).await;
    let home = web.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("近 24 小时登录失败") && home.contains("近 24 小时账户锁定"), "{home}");
    assert!(home.contains("/audit?action=session.lock"), "linked to the records");
    app.clock.advance(time::Duration::hours(25));
    let (web, _) = crate::helpers::ui_login(&app, Role::SecurityAuditor).await;
    let home = web.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!home.contains("近 24 小时账户锁定"), "{home}");
}

/// R-AUTH-1: after 90 days the password must be changed before anything else, and none of
/// the last five may come back.
async fn passwords_expire_and_are_not_reused(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let mut api = app.api_as(Role::DeptStaff).await;
    let name = username_of(Role::DeptStaff);
    let change = |current: &str, new: &str| json!({ "current_password": current, "new_password": new, "confirm_password": new });
    let mut current = PASSWORD.to_owned();
    for i in 1..=4 {
        let next = format!("Rotated{i}pass");
        let r = api.post("/api/v1/me/password", change(&current, &next)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
        current = next;
    }
    // PASSWORD is the 5th most recent (after the one-time password): still refused.
    let r = api.post("/api/v1/me/password", change(&current, PASSWORD)).await;
    assert_eq!(r.body["error"]["fields"][0]["rule"], "err.password_reused");
    let r = api.post("/api/v1/me/password", change(&current, "Rotated5pass")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    current = "Rotated5pass".into();

    app.clock.advance(time::Duration::days(89));
    let r = api.login(&name, &current).await;
    assert_eq!(r.body["must_change_password"], false);
    app.clock.advance(time::Duration::days(2));
    let r = api.login(&name, &current).await;
    assert_eq!(r.body["must_change_password"], true, "expired after 90 days");
    let r = api.get("/api/v1/users").await;
    assert_eq!(r.code(), "password_change_required");
    let r = api.post("/api/v1/me/password", change(&current, "Fresh2027pass")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get("/api/v1/me").await.body["must_change_password"], false);
}

/// The language switch returns to a page of this site only, never to another host.
async fn language_switch_stays_on_this_site(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (back, expected) in [
        ("/users?page=2", "/users?page=2"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
        // Browsers drop the tab and newline: `//evil.example`.
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/ /evil.example", "/"),
    ] {
        let r = http.get(format!("{}/lang/en", app.base)).query(&[("back", back)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], expected, "back={back}");
        assert!(r.headers()["set-cookie"].to_str().unwrap().starts_with("lang=en"));
    }
}

/// A bad date on the audit page is a field error for the auditor, and still a 403 (audited)
/// for anyone else: validation never opens a page the policy would refuse.
async fn audit_page_with_a_bad_filter_still_needs_the_permission(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let page = |api: &Api| {
        let req =
            api.http.get(format!("{}/audit?from=bad", app.base)).bearer_auth(api.token.clone().unwrap());
        async move { req.send().await.unwrap() }
    };
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let r = page(&auditor).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("YYYY-MM-DD"), "the date rule is shown");
    let manager = app.api_as(Role::AccountManager).await;
    assert_eq!(page(&manager).await.status(), StatusCode::FORBIDDEN);
    let denied = app.audit_actions("audit.search").await;
    assert!(denied.iter().any(|r| r.entry.who.username == username_of(Role::AccountManager)
        && r.entry.outcome == pcis_domain::audit::Outcome::Denied));
}
