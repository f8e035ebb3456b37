//! Administration through the real server: institutions (R-ORG-1..3) and their CSV import,
//! users and roles (R-USR-1, 3–6), audit search (R-AUD-3) and form errors in Chinese.

use pcis_domain::role::Role;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, SET_COOKIE};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Api, Backend, PASSWORD, Reply, TestApp, spawn_app, ui_login, username_of};

both_backends!(
    // institutions
    outlet_kind_must_be_self_run_or_agency,
    institution_code_must_be_unique,
    outlets_cannot_have_children,
    creating_outside_own_subtree_is_forbidden,
    institution_name_can_be_edited,
    institution_dates_are_iso_dates_in_json,
    suspending_requires_a_reason,
    closing_is_refused_while_users_remain,
    closing_an_empty_outlet_is_allowed,
    failed_institution_requests_write_nothing,
    // CSV import
    csv_import_loads_a_good_file,
    csv_import_twice_changes_nothing,
    csv_import_reads_gb18030_like_utf8,
    csv_import_refuses_bytes_neither_encoding_reads,
    csv_import_with_bad_rows_names_them_and_writes_nothing,
    csv_import_needs_institution_manage,
    // users
    created_user_gets_a_one_time_password_to_change,
    username_must_be_unique,
    am_supervisor_is_one_per_outlet,
    am_supervisor_only_at_an_outlet,
    biz_admin_cannot_grant_security_roles,
    creating_a_user_outside_own_subtree_is_forbidden,
    sys_admin_and_security_auditor_conflict,
    invalid_user_fields_are_each_named,
    password_reset_gives_a_new_one_time_password_and_ends_sessions,
    deregistered_account_refuses_every_operation,
    // audit search
    audit_search_finds_logins_with_outcome,
    audit_search_filters_by_username_and_dates,
    audit_search_rejects_a_bad_date,
    audit_search_is_itself_audited,
    // UI
    user_form_errors_are_in_chinese_and_keep_the_input,
);

// ---- helpers ----

/// The `(field, rule)` pairs of a 422 reply.
fn field_rules(r: &Reply) -> Vec<(String, String)> {
    r.body["error"]["fields"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|f| (f["field"].as_str().unwrap_or("").to_owned(), f["rule"].as_str().unwrap_or("").to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[track_caller]
fn assert_invalid(r: &Reply, expected: &[(&str, &str)]) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.code(), "invalid_input", "{:?}", r.body);
    assert_eq!(r.body["error"]["field"], expected[0].0, "{:?}", r.body);
    assert_eq!(field_rules(r), pairs(expected), "{:?}", r.body);
}

#[track_caller]
fn assert_denied(r: &Reply, reason: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert_eq!((r.code(), r.body["error"]["reason"].as_str()), ("forbidden", Some(reason)), "{:?}", r.body);
}

#[track_caller]
fn assert_conflict(r: &Reply) {
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(r.code(), "conflict", "{:?}", r.body);
    assert!(!r.body["error"]["message"].as_str().unwrap_or("").is_empty(), "{:?}", r.body);
}

/// The institution list the actor sees (the whole JSON, for before/after comparisons).
async fn tree(api: &Api) -> Vec<Value> {
    let r = api.get("/api/v1/institutions").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

async fn find(api: &Api, code: &str) -> Option<Value> {
    tree(api).await.into_iter().find(|i| i["code"] == code)
}

async fn new_institution(api: &Api, parent: &str, code: &str, name: &str, kind: &str) -> Reply {
    api.post(
        "/api/v1/institutions",
        json!({ "parent_code": parent, "code": code, "name": name, "kind": kind }),
    )
    .await
}

async fn set_status(api: &Api, id: i64, status: &str, reason: &str) -> Reply {
    api.post(&format!("/api/v1/institutions/{id}/status"), json!({ "status": status, "reason": reason }))
        .await
}

/// Posts a CSV file as the raw request body.
pub(crate) async fn import(api: &Api, csv: &[u8]) -> Reply {
    let res = api
        .http
        .post(format!("{}/api/v1/institutions/import", api.base))
        .bearer_auth(api.token.as_deref().expect("logged in"))
        .header(CONTENT_TYPE, "text/csv")
        .body(csv.to_vec())
        .send()
        .await
        .expect("request");
    let status = res.status();
    let text = res.text().await.unwrap_or_default();
    Reply { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)) }
}

#[track_caller]
fn assert_summary(r: &Reply, read: u64, inserted: u64, updated: u64, unchanged: u64) {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({ "read": read, "inserted": inserted, "updated": updated, "unchanged": unchanged })
    );
}

const CSV_HEADER: &str = "code,name,level,parent_code,kind,effective_from\n";

/// A sub-branch under C1 and an outlet under it.
fn good_csv() -> String {
    format!("{CSV_HEADER}S9,测试支行,4,C1,management,2026-01-01\nO9,测试网点,5,S9,self_run,2026-01-01\n")
}

fn user_body(username: &str, staff_no: &str, inst: &str, roles: &[&str]) -> Value {
    json!({
        "username": username, "display_name": "新用户", "staff_no": staff_no,
        "institution_code": inst, "roles": roles,
    })
}

/// Creates a user and returns their id and one-time password.
async fn create_user(
    admin: &Api,
    username: &str,
    staff_no: &str,
    inst: &str,
    roles: &[&str],
) -> (i64, String) {
    let r = admin.post("/api/v1/users", user_body(username, staff_no, inst, roles)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    (r.body["id"].as_i64().unwrap(), r.body["one_time_password"].as_str().unwrap().to_owned())
}

/// Logs in with a one-time password and changes it to `PASSWORD`.
async fn first_login(app: &TestApp, username: &str, otp: &str) -> Api {
    let mut api = Api::anonymous(app);
    let r = api.login(username, otp).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["must_change_password"], true);
    let r = api
        .post(
            "/api/v1/me/password",
            json!({ "current_password": otp, "new_password": PASSWORD, "confirm_password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    api
}

pub(crate) fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers().get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

// ---- institutions (as the system administrator at P1) ----

async fn outlet_kind_must_be_self_run_or_agency(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = new_institution(&admin, "S1", "O7", "新街口网点", "management").await;
    assert_invalid(&r, &[("kind", "err.inst_kind_level")]);
    let r = new_institution(&admin, "S1", "O7", "新街口网点", "self_run").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (&r.body["code"], &r.body["level"], &r.body["kind"], &r.body["status"]),
        (&json!("O7"), &json!(5), &json!("self_run"), &json!("active"))
    );
    assert_eq!(r.body["parent_id"], app.institution_id("S1").await);
    // The creation is audited.
    assert_eq!(app.audit_actions("institution.create").await.len(), 1);
}

async fn institution_code_must_be_unique(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    // Codes are case-insensitive: "o1" is O1.
    let r = new_institution(&admin, "S1", "o1", "另一个网点", "agency").await;
    assert_invalid(&r, &[("code", "err.inst_code_taken")]);
}

async fn outlets_cannot_have_children(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = new_institution(&admin, "O1", "X1", "网点下级", "self_run").await;
    assert_invalid(&r, &[("parent_code", "err.inst_parent_outlet")]);
}

async fn creating_outside_own_subtree_is_forbidden(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = new_institution(&admin, "P2", "C9", "宁波分行", "management").await;
    assert_denied(&r, "deny.out_of_scope");
    let records = app.audit_actions("institution.create").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].entry.outcome.code(), "denied");
}

async fn institution_name_can_be_edited(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let id = app.institution_id("O2").await;
    let before = admin.get(&format!("/api/v1/institutions/{id}")).await.body;
    let body = json!({
        "code": "O2", "name": "人民路代理网点（新址）", "kind": "agency",
        "effective_from": "2025-06-01",
    });
    let r = admin.put(&format!("/api/v1/institutions/{id}"), body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "人民路代理网点（新址）");
    let after = admin.get(&format!("/api/v1/institutions/{id}")).await.body;
    assert_eq!(after["name"], "人民路代理网点（新址）");
    assert_eq!((&after["code"], &after["kind"]), (&before["code"], &before["kind"]));
    assert_eq!(app.audit_actions("institution.update").await.len(), 1);
}

async fn institution_dates_are_iso_dates_in_json(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let body = json!({
        "parent_code": "S1", "code": "O7", "name": "新街口网点", "kind": "self_run",
        "effective_from": "2026-03-01",
    });
    let r = admin.post("/api/v1/institutions", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // What the API returns can be sent back as is: the same YYYY-MM-DD form it accepts.
    assert_eq!(r.body["effective_from"], "2026-03-01", "{:?}", r.body);
    assert_eq!(find(&admin, "O7").await.unwrap()["effective_from"], "2026-03-01");
}

async fn suspending_requires_a_reason(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let id = app.institution_id("O2").await;
    let r = set_status(&admin, id, "suspended", "  ").await;
    assert_invalid(&r, &[("reason", "err.required")]);
    assert_eq!(find(&admin, "O2").await.unwrap()["status"], "active");
    let r = set_status(&admin, id, "suspended", "装修停业").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(find(&admin, "O2").await.unwrap()["status"], "suspended");
    let records = app.audit_actions("institution.suspend").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].entry.reason, "装修停业");
}

async fn closing_is_refused_while_users_remain(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    // O1 is the home of the account manager, its supervisor and the data-entry clerk.
    let r = set_status(&admin, app.institution_id("O1").await, "closed", "撤并").await;
    assert_conflict(&r);
    assert_eq!(find(&admin, "O1").await.unwrap()["status"], "active");
}

async fn closing_an_empty_outlet_is_allowed(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = new_institution(&admin, "S1", "O7", "新街口网点", "agency").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let r = set_status(&admin, id, "closed", "撤并").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(find(&admin, "O7").await.unwrap()["status"], "closed");
    // Closing is final.
    assert_conflict(&set_status(&admin, id, "active", "恢复").await);
}

async fn failed_institution_requests_write_nothing(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let before = tree(&admin).await;
    let o1 = app.institution_id("O1").await;
    let failures = [
        new_institution(&admin, "S1", "O7", "新街口网点", "management").await,
        new_institution(&admin, "S1", "O1", "重复代码", "self_run").await,
        new_institution(&admin, "O1", "X1", "网点下级", "self_run").await,
        new_institution(&admin, "P2", "C9", "宁波分行", "management").await,
        new_institution(&admin, "S1", "!", "", "").await,
        admin.put(&format!("/api/v1/institutions/{o1}"), json!({ "code": "O2", "name": "改代码" })).await,
        set_status(&admin, o1, "suspended", "").await,
        set_status(&admin, o1, "closed", "撤并").await,
    ];
    for r in &failures {
        assert!(r.status.is_client_error(), "{:?} {:?}", r.status, r.body);
    }
    assert_eq!(tree(&admin).await, before);
    assert!(app.audit_actions("institution.update").await.is_empty());
    assert!(app.audit_actions("institution.suspend").await.is_empty());
    assert!(app.audit_actions("institution.close").await.is_empty());
}

// ---- CSV import ----

async fn csv_import_loads_a_good_file(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let count = tree(&admin).await.len();
    assert_summary(&import(&admin, good_csv().as_bytes()).await, 2, 2, 0, 0);
    assert_eq!(tree(&admin).await.len(), count + 2);
    let s9 = find(&admin, "S9").await.expect("S9 imported");
    let o9 = find(&admin, "O9").await.expect("O9 imported");
    assert_eq!(
        (&s9["name"], &s9["level"], &s9["parent_id"]),
        (&json!("测试支行"), &json!(4), &json!(app.institution_id("C1").await))
    );
    assert_eq!((&o9["name"], &o9["level"], &o9["kind"]), (&json!("测试网点"), &json!(5), &json!("self_run")));
    assert_eq!(o9["parent_id"], s9["id"]);
    assert_eq!(app.audit_actions("institution.import").await.len(), 1);
}

async fn csv_import_twice_changes_nothing(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    assert_summary(&import(&admin, good_csv().as_bytes()).await, 2, 2, 0, 0);
    let after_first = tree(&admin).await;
    assert_summary(&import(&admin, good_csv().as_bytes()).await, 2, 0, 0, 2);
    assert_eq!(tree(&admin).await, after_first);
    // A changed name updates that row in place and nothing else.
    let renamed = good_csv().replace("测试网点", "测试网点二");
    assert_summary(&import(&admin, renamed.as_bytes()).await, 2, 0, 1, 1);
    assert_eq!(tree(&admin).await.len(), after_first.len());
    assert_eq!(find(&admin, "O9").await.unwrap()["name"], "测试网点二");
}

async fn csv_import_reads_gb18030_like_utf8(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    // good_csv() with 测试支行 / 测试网点 written in GB18030.
    const CESHI: [u8; 4] = [0xB2, 0xE2, 0xCA, 0xD4]; // 测试
    const ZHIHANG: [u8; 4] = [0xD6, 0xA7, 0xD0, 0xD0]; // 支行
    const WANGDIAN: [u8; 4] = [0xCD, 0xF8, 0xB5, 0xE3]; // 网点
    let mut gb = CSV_HEADER.as_bytes().to_vec();
    gb.extend_from_slice(b"S9,");
    gb.extend_from_slice(&CESHI);
    gb.extend_from_slice(&ZHIHANG);
    gb.extend_from_slice(b",4,C1,management,2026-01-01\nO9,");
    gb.extend_from_slice(&CESHI);
    gb.extend_from_slice(&WANGDIAN);
    gb.extend_from_slice(b",5,S9,self_run,2026-01-01\n");
    assert!(std::str::from_utf8(&gb).is_err(), "the file must not be valid UTF-8");
    assert_summary(&import(&admin, &gb).await, 2, 2, 0, 0);
    assert_eq!(find(&admin, "S9").await.unwrap()["name"], "测试支行");
    assert_eq!(find(&admin, "O9").await.unwrap()["name"], "测试网点");
    // Its UTF-8 twin (with a BOM, as spreadsheet tools write it) finds the very same rows.
    let utf8 = format!("\u{feff}{}", good_csv());
    assert_summary(&import(&admin, utf8.as_bytes()).await, 2, 0, 0, 2);
}

/// A GB18030 file with a byte sequence GB18030 cannot read is refused with its row; no name
/// is stored with replacement characters.
async fn csv_import_refuses_bytes_neither_encoding_reads(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let count = tree(&admin).await.len();
    let mut gb = CSV_HEADER.as_bytes().to_vec();
    gb.extend_from_slice(
        b"S9,\xB2\xE2\xCA\xD4,4,C1,management,2026-01-01\nO9,\x81\x20,5,S9,self_run,2026-01-01\n",
    );
    let r = import(&admin, &gb).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(
        (&r.body["error"]["rows"][0]["row"], &r.body["error"]["rows"][0]["rule"]),
        (&json!(3), &json!("err.csv_encoding"))
    );
    assert_eq!(tree(&admin).await.len(), count, "nothing written");
}

async fn csv_import_with_bad_rows_names_them_and_writes_nothing(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let before = tree(&admin).await;
    let csv = format!(
        "{CSV_HEADER}\
         S8,好支行,4,C1,management,2026-01-01\n\
         X1,级别越界,9,C1,management,2026-01-01\n\
         X2,上级不存在,4,NOPE,management,2026-01-01\n\
         X-3,代码不合法,4,C1,management,2026-01-01\n\
         X4,日期不合法,4,C1,management,2026-02-30\n\
         X5,级别不符,5,C1,self_run,2026-01-01\n\
         C9,越权,3,P2,management,2026-01-01\n"
    );
    let r = import(&admin, csv.as_bytes()).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows"), "{:?}", r.body);
    let rows: Vec<(u64, String, String)> = r.body["error"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|e| {
            assert!(!e["message"].as_str().unwrap_or("").is_empty(), "{e:?}");
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().into(),
                e["rule"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        (3, "level", "err.inst_level_range"),
        (4, "parent_code", "err.inst_parent_unknown"),
        (5, "code", "err.inst_code_format"),
        (6, "effective_from", "err.date_format"),
        (7, "level", "err.inst_level_parent"),
        (8, "parent_code", "deny.out_of_scope"),
    ];
    let expected: Vec<(u64, String, String)> =
        expected.iter().map(|(n, f, rule)| (*n, (*f).to_owned(), (*rule).to_owned())).collect();
    assert_eq!(rows, expected);
    // The good row 2 was not written either.
    assert_eq!(tree(&admin).await, before);
    assert!(find(&admin, "S8").await.is_none());
    assert!(app.audit_actions("institution.import").await.is_empty());
}

async fn csv_import_needs_institution_manage(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let biz = app.api_as(Role::BizAdmin).await;
    let before = tree(&biz).await;
    assert_denied(&import(&biz, good_csv().as_bytes()).await, "deny.no_permission");
    assert_eq!(tree(&biz).await, before);
    assert_eq!(app.audit_actions("institution.import").await[0].entry.outcome.code(), "denied");
}

// ---- users (as the business administrator at P1) ----

async fn created_user_gets_a_one_time_password_to_change(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let r = admin.post("/api/v1/users", user_body("zhang.san", "A1001", "O2", &["account_manager"])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let otp = r.body["one_time_password"].as_str().expect("one-time password").to_owned();
    assert!(!otp.is_empty());
    let id = r.body["id"].as_i64().unwrap();
    let user = admin.get(&format!("/api/v1/users/{id}")).await.body;
    assert_eq!((&user["username"], &user["status"]), (&json!("zhang.san"), &json!("active")));
    assert_eq!((&user["roles"], &user["must_change_password"]), (&json!(["account_manager"]), &json!(true)));
    // The new user logs in, and can do nothing but change the password first.
    let mut me = Api::anonymous(&app);
    let r = me.login("zhang.san", &otp).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["must_change_password"], true);
    assert_eq!(me.get("/api/v1/me").await.code(), "password_change_required");
    let me = first_login(&app, "zhang.san", &otp).await;
    let r = me.get("/api/v1/me").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["institution_id"], app.institution_id("O2").await);
}

async fn username_must_be_unique(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let taken = username_of(Role::DataEntry).to_uppercase();
    let r = admin.post("/api/v1/users", user_body(&taken, "A1001", "O2", &["account_manager"])).await;
    assert_invalid(&r, &[("username", "err.username_taken")]);
}

async fn am_supervisor_is_one_per_outlet(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    // O1 already has u_am_supervisor.
    let r = admin.post("/api/v1/users", user_body("li.si", "A1002", "O1", &["am_supervisor"])).await;
    assert_invalid(&r, &[("roles", "err.role_unique_per_unit")]);
    // O2 has none yet.
    create_user(&admin, "li.si", "A1002", "O2", &["am_supervisor"]).await;
}

async fn am_supervisor_only_at_an_outlet(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let r = admin.post("/api/v1/users", user_body("wang.wu", "A1003", "S1", &["am_supervisor"])).await;
    assert_invalid(&r, &[("roles", "err.role_level")]);
}

async fn biz_admin_cannot_grant_security_roles(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let r = admin.post("/api/v1/users", user_body("zhao.liu", "A1004", "C1", &["security_auditor"])).await;
    assert_denied(&r, "deny.role_not_administered");
    let records = app.audit_actions("user.create").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].entry.outcome.code(), "denied");
}

async fn creating_a_user_outside_own_subtree_is_forbidden(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let r = admin.post("/api/v1/users", user_body("qian.shi", "A1008", "O3", &["account_manager"])).await;
    assert_denied(&r, "deny.out_of_scope");
}

async fn sys_admin_and_security_auditor_conflict(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::SysAdmin).await;
    let r = admin
        .post("/api/v1/users", user_body("sun.qi", "A1005", "C1", &["sys_admin", "security_auditor"]))
        .await;
    assert_invalid(&r, &[("roles", "err.roles_conflict")]);
}

async fn invalid_user_fields_are_each_named(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let body = json!({
        "username": "9张三", "display_name": "  ", "staff_no": "A-1",
        "institution_code": "O2", "roles": ["account_manager"],
    });
    let r = admin.post("/api/v1/users", body).await;
    assert_invalid(
        &r,
        &[
            ("username", "err.username_format"),
            ("display_name", "err.required"),
            ("staff_no", "err.staff_no_format"),
        ],
    );
    let users = admin.get("/api/v1/users").await;
    assert_eq!(users.body["total"], 13, "nothing created: {:?}", users.body);
}

async fn password_reset_gives_a_new_one_time_password_and_ends_sessions(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let (id, first_otp) = create_user(&admin, "zhou.ba", "A1006", "O2", &["account_manager"]).await;
    let session = first_login(&app, "zhou.ba", &first_otp).await;
    assert_eq!(session.get("/api/v1/me").await.status, StatusCode::OK);
    let r = admin.post(&format!("/api/v1/users/{id}/reset-password"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let otp = r.body["one_time_password"].as_str().expect("one-time password").to_owned();
    assert_ne!(otp, first_otp);
    assert_eq!(session.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "old session ended");
    let mut anon = Api::anonymous(&app);
    assert_eq!(anon.login("zhou.ba", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let r = anon.login("zhou.ba", &otp).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["must_change_password"], true);
}

async fn deregistered_account_refuses_every_operation(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let admin = app.api_as(Role::BizAdmin).await;
    let (id, otp) = create_user(&admin, "wu.jiu", "A1007", "O2", &["account_manager"]).await;
    let session = first_login(&app, "wu.jiu", &otp).await;
    let account = format!("/api/v1/users/{id}/account");
    let r = admin.post(&account, json!({ "op": "deregister", "reason": "离职" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(session.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(Api::anonymous(&app).login("wu.jiu", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    for op in ["freeze", "deregister", "reactivate", "unlock", "force_logout"] {
        let r = admin.post(&account, json!({ "op": op, "reason": "再试" })).await;
        assert_conflict(&r);
    }
    assert_conflict(&admin.post(&format!("/api/v1/users/{id}/reset-password"), json!({})).await);
    assert_conflict(
        &admin.put(&format!("/api/v1/users/{id}/roles"), json!({ "roles": ["data_entry"] })).await,
    );
    let user = admin.get(&format!("/api/v1/users/{id}")).await.body;
    assert_eq!((&user["status"], &user["roles"]), (&json!("deregistered"), &json!(["account_manager"])));
}

// ---- audit search (as the security auditor at P1) ----

async fn audit_search_finds_logins_with_outcome(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let biz = username_of(Role::BizAdmin);
    app.api_as(Role::BizAdmin).await; // sets the known password
    assert_eq!(Api::anonymous(&app).login(&biz, PASSWORD).await.status, StatusCode::CREATED);
    assert_eq!(Api::anonymous(&app).login(&biz, "Wrong12345").await.status, StatusCode::UNAUTHORIZED);
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let r = auditor.get("/api/v1/audit?action=session.").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["action"].as_str().unwrap().starts_with("session.")), "{items:?}");
    let logins: Vec<(&str, &str)> = items
        .iter()
        .filter(|i| i["action"] == "session.login" && i["who"]["username"] == biz.as_str())
        .map(|i| (i["outcome"].as_str().unwrap(), i["reason"].as_str().unwrap()))
        .collect();
    // Newest first: the failed attempt, then the successful login before it.
    assert!(logins.len() >= 2, "{items:?}");
    assert_eq!(logins[..2], [("failed", "bad_password"), ("success", "")], "{items:?}");
}

async fn audit_search_filters_by_username_and_dates(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    app.api_as(Role::BizAdmin).await;
    app.api_as(Role::SysAdmin).await;
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let r = auditor.get("/api/v1/audit?username=u_biz_admin").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["who"]["username"] == "u_biz_admin"), "{items:?}");
    assert!(items.iter().any(|i| i["action"] == "session.login"), "{items:?}");
    assert_eq!(r.body["total"], items.len());
    let r = auditor.get("/api/v1/audit?from=2000-01-01&to=2000-01-02").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!((&r.body["total"], &r.body["items"]), (&json!(0), &json!([])));
    let r = auditor.get("/api/v1/audit?from=2000-01-01").await;
    assert!(r.body["total"].as_i64().unwrap() > 0, "{:?}", r.body);
}

async fn audit_search_rejects_a_bad_date(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let auditor = app.api_as(Role::SecurityAuditor).await;
    assert_invalid(&auditor.get("/api/v1/audit?from=bad").await, &[("from", "err.date_format")]);
    assert_invalid(&auditor.get("/api/v1/audit?to=2026-02-30").await, &[("to", "err.date_format")]);
}

async fn audit_search_is_itself_audited(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let auditor = app.api_as(Role::SecurityAuditor).await;
    assert_eq!(auditor.get("/api/v1/audit?username=u_biz_admin").await.status, StatusCode::OK);
    let records = app.audit_actions("audit.search").await;
    assert_eq!(records.len(), 1);
    let e = &records[0].entry;
    assert_eq!((e.who.username.as_str(), e.outcome.code()), ("u_security_auditor", "success"));
    assert!(e.detail.contains("u_biz_admin"), "{}", e.detail);
    // Someone without the permission is refused, and that is recorded too.
    let r = app.api_as(Role::BizAdmin).await.get("/api/v1/audit").await;
    assert_denied(&r, "deny.no_permission");
    let records = app.audit_actions("audit.search").await;
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[0].entry.who.username.as_str(), records[0].entry.outcome.code()),
        ("u_biz_admin", "denied")
    );
}

// ---- UI form errors ----

/// `err.username_format` of `crates/web/locales/zh-CN.yml`.
const USERNAME_FORMAT_ZH: &str = "用户名须为 3–32 位小写字母、数字或 . _ -，以字母开头。";

async fn user_form_errors_are_in_chinese_and_keep_the_input(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let (web, token) = ui_login(&app, Role::BizAdmin).await;
    let form = [
        ("_csrf", token.as_str()),
        ("username", "9王"),
        ("display_name", "王小明"),
        ("staff_no", "Z9001"),
        ("institution_code", "O2"),
        ("roles", "account_manager"),
        ("roles", "data_entry"),
    ];
    let res = web.post(format!("{}/users", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains(USERNAME_FORMAT_ZH), "{page}");
    assert!(page.contains(r#"<div class="field has-error">"#), "the username field is marked");
    for kept in [
        r#"value="9王""#,
        r#"value="王小明""#,
        r#"value="Z9001""#,
        r#"<option value="O2" selected>"#,
        r#"value="account_manager" checked"#,
        r#"value="data_entry" checked"#,
    ] {
        assert!(page.contains(kept), "{kept} missing in {page}");
    }
    assert!(!page.contains(r#"value="vip_head" checked"#));
    // Nothing was created.
    let api = app.api_as(Role::BizAdmin).await;
    assert_eq!(api.get("/api/v1/users?q=Z9001").await.body["total"], 0);
}
