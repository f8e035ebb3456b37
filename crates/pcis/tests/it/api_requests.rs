//! Requests the server refuses or shapes, through the real server: bad input (unknown routes,
//! wrong methods, malformed bodies, oversized uploads, bad parameters), security headers,
//! health and the API document, and CSRF on the browser UI (R-AUTH-5).

use pcis_domain::role::Role;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_admin::{import, set_cookies};
use crate::both_backends;
use crate::helpers::{Backend, PASSWORD, browser, csrf_of, spawn_app, ui_login, username_of};

both_backends!(
    a_refusal_page_keeps_the_frame,
    unknown_route_is_404_json_under_api_and_html_elsewhere,
    wrong_method_is_405,
    bad_request_bodies_are_client_errors,
    oversized_csv_import_is_a_json_413,
    bad_path_or_query_parameters_get_json_errors,
    responses_carry_security_headers,
    health_readiness_and_openapi,
    login_form_needs_the_pre_session_csrf_token,
    logout_needs_the_session_csrf_token,
    api_cookie_session_needs_csrf_header_bearer_does_not,
    a_storage_failure_while_checking_the_session_answers_in_the_callers_format,
);

/// With the database gone while a session is being checked, the API still answers JSON (a
/// 500 naming its request id) and a page an HTML page: never one for the other.
async fn a_storage_failure_while_checking_the_session_answers_in_the_callers_format(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::BizAdmin).await;
    assert_eq!(api.get("/api/v1/me").await.status, StatusCode::OK);
    app.app.db.close().await;
    let r = api.get("/api/v1/me").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body["error"]["code"], "internal", "{:?}", r.body);
    let token = api.token.clone().unwrap();
    let page = reqwest::Client::new()
        .get(format!("{}/", app.base))
        .header("Cookie", format!("pcis_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
}

// ---- bad input through the real server ----

async fn unknown_route_is_404_json_under_api_and_html_elsewhere(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::SysAdmin).await;
    let r = api.get("/api/v1/no-such-thing").await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"), "{:?}", r.body);
    assert!(!r.body["error"]["message"].as_str().unwrap_or("").is_empty());
    let res = reqwest::get(format!("{}/no-such-page", app.base)).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("页面或记录不存在"));
}

async fn wrong_method_is_405(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::BizAdmin).await;
    let r = api.call(Method::DELETE, "/api/v1/users", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{:?}", r.body);
    assert_eq!(r.code(), "method_not_allowed", "{:?}", r.body);
    // Outside the API, an HTML page. Checked with GET: an unsafe method without a CSRF token is
    // refused (403) before routing.
    let res = browser().get(format!("{}/logout", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.text().await.unwrap().contains("不支持的请求方法"));
}

async fn bad_request_bodies_are_client_errors(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let http = reqwest::Client::new();
    let session = format!("{}/api/v1/session", app.base);
    let send = |content_type: &'static str, body: Vec<u8>| {
        http.post(&session).header(CONTENT_TYPE, content_type).body(body).send()
    };
    let code = |res: reqwest::Response| async move {
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
    };
    let malformed = send("application/json", b"{\"username\": ".to_vec()).await.unwrap();
    assert_eq!(code(malformed).await, (StatusCode::BAD_REQUEST, "bad_json".into()));
    let wrong_shape = send("application/json", br#"{"username": 5, "password": []}"#.to_vec()).await.unwrap();
    assert_eq!(code(wrong_shape).await, (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input".into()));
    let not_json = send("text/plain", br#"{"username": "a", "password": "b"}"#.to_vec()).await.unwrap();
    assert_eq!(code(not_json).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut huge = br#"{"username": "a", "password": ""#.to_vec();
    huge.resize(8 * 1024 * 1024 + 16, b'x');
    huge.extend_from_slice(br#""}"#);
    let too_large = send("application/json", huge).await.unwrap();
    assert_eq!(code(too_large).await, (StatusCode::PAYLOAD_TOO_LARGE, "too_large".into()));
}

async fn oversized_csv_import_is_a_json_413(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = import(&admin, &vec![b'a'; 8 * 1024 * 1024 + 1]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{:?}", r.body);
    assert!(app.audit_actions("institution.import").await.is_empty());
    // Like every API error: `{"error": {"code", "message"}}`.
    assert_eq!(r.code(), "too_large", "{:?}", r.body);
}

async fn bad_path_or_query_parameters_get_json_errors(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let api = app.api_as(Role::BizAdmin).await;
    assert_eq!(api.get("/api/v1/users/999999").await.code(), "not_found");
    for path in ["/api/v1/users/abc", "/api/v1/institutions/99999999999999999999", "/api/v1/users?page=abc"] {
        let r = api.get(path).await;
        assert!(r.status.is_client_error(), "{path}: {:?} {:?}", r.status, r.body);
        assert!(!r.code().is_empty(), "{path}: not a JSON API error: {:?}", r.body);
    }
}

async fn responses_carry_security_headers(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let http = browser();
    for path in ["/login", "/healthz", "/api/v1/me", "/no-such-page", "/api/openapi.json"] {
        let res = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_ne!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let h = res.headers();
        let header = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{path}: {h:?}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
    }
}

async fn health_readiness_and_openapi(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    for path in ["/healthz", "/readyz"] {
        let res = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    let res = reqwest::get(format!("{}/api/openapi.json", app.base)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let spec: Value = res.json().await.expect("openapi.json is JSON");
    assert!(spec["paths"].is_object(), "{spec}");
}

// ---- CSRF on the browser UI ----

async fn login_form_needs_the_pre_session_csrf_token(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    app.api_as(Role::BizAdmin).await;
    let web = browser();
    let res = web.get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    assert!(cookies.iter().any(|c| c.starts_with("pcis_csrf=")), "{cookies:?}");
    let token = csrf_of(&res.text().await.unwrap());
    assert_eq!(token.len(), 64);
    assert!(cookies.iter().any(|c| c.starts_with(&format!("pcis_csrf={token};"))), "{cookies:?}");
    let creds = [("username", username_of(Role::BizAdmin)), ("password", PASSWORD.into())];
    let login = format!("{}/login", app.base);
    // Without the token, and with a wrong one: refused, no session.
    for extra in [vec![], vec![("_csrf", "0".repeat(64))]] {
        let form: Vec<_> = creds.iter().cloned().chain(extra).collect();
        let res = web.post(&login).form(&form).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(set_cookies(&res).iter().all(|c| !c.starts_with("pcis_session=")));
        assert!(res.text().await.unwrap().contains("<html"), "an HTML page");
    }
    // A different browser presenting this token without its cookie: refused too.
    let form: Vec<_> = creds.iter().cloned().chain([("_csrf", token.clone())]).collect();
    assert_eq!(browser().post(&login).form(&form).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    // Each refusal is audited (R-USR-6), with no one behind it yet.
    let refused = app.audit_actions("session.csrf").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused.iter().all(|r| r.entry.outcome == pcis_domain::audit::Outcome::Denied
        && r.entry.who.user_id.is_none()
        && r.entry.target_id == "/login"
        && r.entry.reason == "err.csrf"));
    // The right token: logged in.
    let res = web.post(&login).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/");
    assert!(set_cookies(&res).iter().any(|c| c.starts_with("pcis_session=")), "{:?}", set_cookies(&res));
    assert_eq!(web.get(format!("{}/", app.base)).send().await.unwrap().status(), StatusCode::OK);
}

async fn logout_needs_the_session_csrf_token(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let (web, token) = ui_login(&app, Role::BizAdmin).await;
    let logout = format!("{}/logout", app.base);
    let res = web.post(&logout).form(&[("x", "y")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("页面已过期或请求来源不可信"));
    let res = web.post(&logout).form(&[("_csrf", "f".repeat(64))]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Still logged in.
    assert_eq!(web.get(format!("{}/", app.base)).send().await.unwrap().status(), StatusCode::OK);
    let res = web.post(&logout).form(&[("_csrf", token)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login");
    let res = web.get(format!("{}/", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "logged out");
    assert_eq!(res.headers()[LOCATION], "/login");
    assert_eq!(app.audit_actions("session.logout").await.len(), 1);
}

async fn api_cookie_session_needs_csrf_header_bearer_does_not(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let (web, token) = ui_login(&app, Role::BizAdmin).await;
    let target = app.user_id(&username_of(Role::AccountManager)).await;
    let unlock = format!("{}/api/v1/users/{target}/account", app.base);
    // The cookie alone reads, but does not change anything.
    assert_eq!(web.get(format!("{}/api/v1/me", app.base)).send().await.unwrap().status(), StatusCode::OK);
    let res = web.post(&unlock).json(&json!({ "op": "unlock" })).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: Value = res.json().await.unwrap();
    assert_eq!((&body["error"]["code"], &body["error"]["reason"]), (&json!("forbidden"), &json!("err.csrf")));
    let res =
        web.post(&unlock).header("x-csrf-token", "0".repeat(64)).json(&json!({ "op": "unlock" })).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::FORBIDDEN);
    assert!(app.audit_actions("user.unlock").await.is_empty());
    let refused = app.audit_actions("session.csrf").await;
    assert_eq!(refused.len(), 2, "both refusals audited: {refused:?}");
    assert!(refused.iter().all(|r| r.entry.who.username == username_of(Role::BizAdmin)
        && r.entry.target_id == format!("/api/v1/users/{target}/account")));
    // With the session's token in the header it goes through.
    let res = web.post(&unlock).header("x-csrf-token", &token).json(&json!({ "op": "unlock" })).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::NO_CONTENT);
    // A bearer token is no ambient credential: no CSRF token needed.
    let api = app.api_as(Role::BizAdmin).await;
    let r = api.post(&format!("/api/v1/users/{target}/account"), json!({ "op": "unlock" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(app.audit_actions("user.unlock").await.len(), 2);
}

/// A page the policy refuses to a signed-in user is still in the frame of the UI: the
/// navigation and the logout button stay, so the user is not stranded.
async fn a_refusal_page_keeps_the_frame(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let (web, _) = ui_login(&app, Role::AccountManager).await;
    let res = web.get(format!("{}/users", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let html = res.text().await.unwrap();
    assert!(html.contains("您的角色无此操作权限"), "{html}");
    assert!(html.contains(r#"action="/logout""#) && html.contains(r#"class="sidenav""#), "{html}");
    // Before login there is no frame to keep.
    let res = browser().get(format!("{}/no-such-page", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.unwrap().contains(r#"class="sidenav""#));
}
