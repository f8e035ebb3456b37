//! Customer privacy through the real API: sealed at rest (R-PRV-3), purpose-bound reveal
//! (R-PRV-2), maker-checker (R-CUS-7) and the credit reviewer's exact lookup (R-USR-3).

use pcis_domain::role::Role;
use pcis_service::bootstrap::{SeedAccount, SeedCustomer};
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, ui_login};

both_backends!(
    values_are_sealed_at_rest,
    reveal_and_maker_checker,
    credit_lookup_is_exact_and_monitored,
    every_response_is_masked_unless_revealed,
    audit_search_finds_a_customers_records,
    a_partial_number_that_finds_nothing_is_explained,
    a_proposal_lists_exactly_the_changed_fields
);

pub(crate) const ID: &str = "11010519491231002X";
pub(crate) const MOBILE: &str = "13812345678";
const ACCOUNT: &str = "6222021234567890128";
pub(crate) const NAME: &str = "张三丰";
pub(crate) const NEW_MOBILE: &str = "13900001234";

/// The seeded customer's identity and contacts.
fn seed_input() -> pcis_domain::customer::CustomerInput {
    pcis_domain::customer::CustomerInput {
        name: NAME.into(),
        gender: "female".into(),
        birth_date: "1949-12-31".into(),
        id_type: "resident_id".into(),
        id_number: ID.into(),
        mobile: MOBILE.into(),
        address: "北京市朝阳区建国路88号".into(),
        ..Default::default()
    }
}

/// Seeds one customer of O1 assigned to the test account manager; returns its id.
pub(crate) async fn seed(app: &TestApp) -> i64 {
    let input = seed_input();
    let seed = SeedCustomer {
        customer_no: "C000000001".into(),
        input,
        outlet_code: "O1".into(),
        manager: Some("u_account_manager".into()),
        specialist: None,
        vip_member: false,
        risk_level: Some("C3".into()),
        accounts: vec![SeedAccount {
            number: ACCOUNT.into(),
            product_type: "demand",
            product_code: "D1".into(),
            product_name: "活期".into(),
            balance: 12_345_600,
            opened_on: "2020-01-01".into(),
            matures_on: None,
        }],
        transactions: vec![],
        tags: vec!["代发工资".into()],
        marketing_consent: None,
    };
    assert_eq!(app.app.seed_customers(&[seed]).await.unwrap(), 1);
    let api = app.api_as(Role::AccountManager).await;
    let r = api.get("/api/v1/customers?q=C000000001").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"][0]["id"].as_i64().expect("the manager finds its customer")
}

/// Every stored form of the customer tables, as text, for a plaintext scan.
async fn raw_storage(app: &TestApp) -> String {
    match &app.app.db {
        pcis_store::Db::Sqlite { .. } => {
            let path = app.db_url.trim_start_matches("sqlite:");
            let mut bytes = std::fs::read(path).unwrap();
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        pcis_store::Db::Pg(pool) => {
            let mut out = String::new();
            for table in ["customer", "account", "customer_proposal", "audit_log", "txn"] {
                let sql = format!("SELECT CAST(row_to_json(x) AS TEXT) FROM {table} x");
                let rows: Vec<String> =
                    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.unwrap();
                out.push_str(&rows.join("\n"));
            }
            out
        }
    }
}

async fn values_are_sealed_at_rest(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let api = app.api_as(Role::AccountManager).await;
    // Search by the exact values (blind index), reveal, and propose a new mobile: every path
    // that handles full values.
    for q in [ID, MOBILE] {
        let r = api.get(&format!("/api/v1/customers?q={q}")).await;
        assert_eq!(r.body["total"], 1, "{q}: {:?}", r.body);
    }
    let r = api
        .post(
            &format!("/api/v1/customers/{id}/reveal"),
            json!({ "field": "id_number", "reason": "核实身份" }),
        )
        .await;
    assert_eq!(r.body["value"], ID);
    let r = api
        .post(
            &format!("/api/v1/customers/{id}/proposals"),
            json!({ "kind": "modify", "changes": { "mobile": "13900001111" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let raw = raw_storage(&app).await;
    assert!(raw.contains("138****5678"), "the masked form is stored for display");
    for plain in [ID, MOBILE, ACCOUNT, "13900001111", "建国路88号"] {
        assert!(!raw.contains(plain), "{plain} is stored in clear");
    }
}

async fn reveal_and_maker_checker(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let view = am.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(view.status, StatusCode::OK);
    let text = view.body.to_string();
    assert!(!text.contains(ID) && !text.contains(MOBILE) && !text.contains("张三丰"), "{text}");
    assert_eq!(view.body["basis"], "assigned_manager");
    assert_eq!(view.body["detail"]["record"]["mobile"], "138****5678");

    // A reveal needs a reason and returns that one value only.
    let path = format!("/api/v1/customers/{id}/reveal");
    let r = am.post(&path, json!({ "field": "mobile", "reason": "" })).await;
    assert_eq!(
        (r.status, r.body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let r = am.post(&path, json!({ "field": "mobile", "reason": "联系客户" })).await;
    assert_eq!(r.body, json!({ "field": "mobile", "value": MOBILE }));

    // A bad mobile is refused with the rule; nothing is proposed.
    let propose = format!("/api/v1/customers/{id}/proposals");
    let r = am.post(&propose, json!({ "kind": "modify", "changes": { "mobile": "12345" } })).await;
    assert_eq!(r.body["error"]["field"], "mobile", "{:?}", r.body);
    let r = am
        .post(
            &propose,
            json!({ "kind": "modify", "changes": { "occupation": "教师", "mobile": "13900001111" } }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let pid = r.body["proposal"].as_i64().unwrap();

    // Not applied before review; the proposer cannot decide it; the supervisor can, once.
    let still = am.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(still.body["detail"]["record"]["mobile"], "138****5678");
    let decide = format!("/api/v1/proposals/{pid}/decision");
    let sup = app.api_as(Role::AmSupervisor).await;
    let list = sup.get("/api/v1/proposals?status=pending").await;
    let item = &list.body["items"][0];
    assert_eq!((item["id"].as_i64(), item["after"].is_null()), (Some(pid), true));
    assert!(item["after_masked"].as_str().unwrap().contains("139****1111"), "{item}");
    let (a, b2) = tokio::join!(
        sup.post(&decide, json!({ "approve": true, "comment": "同意" })),
        sup.post(&decide, json!({ "approve": true, "comment": "同意" })),
    );
    let mut statuses = [a.status, b2.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::CONFLICT], "exactly one approval wins");
    let after = am.get(&format!("/api/v1/customers/{id}")).await;
    assert_eq!(after.body["detail"]["record"]["mobile"], "139****1111");
    assert_eq!(after.body["detail"]["record"]["occupation"], "教师");
}

async fn credit_lookup_is_exact_and_monitored(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    seed(&app).await;
    let credit = app.api_as(Role::CreditReviewer).await;
    let lookup = |name: &str| json!({ "name": name, "id_number": ID, "purpose": "贷前审查" });
    let r = credit.post("/api/v1/credit-lookups", lookup("张三丰")).await;
    assert_eq!(r.body["found"], true, "{:?}", r.body);
    assert_eq!(r.body["customer"]["record"]["id_number"], "110105********002X");
    // Wrong name, right ID: nothing — three times raises a flag for the auditor.
    for name in ["张三", "张三丰丰", "李四"] {
        let r = credit.post("/api/v1/credit-lookups", lookup(name)).await;
        assert_eq!(r.body, json!({ "found": false, "customer": null }));
    }
    let r = credit.get("/api/v1/customers?q=%E5%BC%A0").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no browsing");
    let flags = app.api_as(Role::SecurityAuditor).await.get("/api/v1/monitoring-flags").await;
    assert_eq!(flags.body["items"][0]["kind"], "credit_lookup_misses", "{:?}", flags.body);
    assert_eq!(flags.body["items"][0]["username"], "u_credit_reviewer");
}

/// R-PRV-2 over every response that carries customer data: each role walks the API and the
/// pages (search by number, mobile and ID; the 360; transactions; the change form; the
/// proposals with a pending new mobile and address; the credit lookup; the audit log) and no
/// full value appears. Then a reveal shows exactly the one field asked for.
async fn every_response_is_masked_unless_revealed(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let manager = app.api_as(Role::AccountManager).await;
    let new_address = "北京市海淀区中关村大街27号";
    let changes = json!({ "kind": "modify", "changes": { "mobile": NEW_MOBILE, "address": new_address } });
    let r = manager.post(&format!("/api/v1/customers/{id}/proposals"), changes).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    // A second customer at another outlet gives the same mobile: a suspicious item (R-ETL-4).
    let twin = SeedCustomer {
        customer_no: "C000000002".into(),
        input: seed_input(),
        outlet_code: "O2".into(),
        ..Default::default()
    };
    app.app.seed_customers(&[twin]).await.unwrap();
    assert_eq!(app.app.build_suspect_list().await.unwrap().listed, 1);
    let secrets = [ID, MOBILE, ACCOUNT, NEW_MOBILE, "建国路88号", "中关村大街27号", "三丰"];
    let check = |role: Role, what: &str, body: &str| {
        for s in secrets {
            // The value itself is not printed: the failure names the role, the place and the kind.
            let kind = secrets.iter().position(|x| *x == s).unwrap();
            assert!(!body.contains(s), "{role:?}: {what} carries unmasked secret #{kind}");
        }
    };
    let api_paths = [
        "/api/v1/customers?q=C000000001".to_owned(),
        format!("/api/v1/customers?q={MOBILE}"),
        format!("/api/v1/customers?q={ID}"),
        "/api/v1/customers?q=张".to_owned(),
        format!("/api/v1/customers/{id}"),
        format!("/api/v1/customers/{id}/transactions"),
        "/api/v1/proposals".to_owned(),
        "/api/v1/monitoring-flags".to_owned(),
        "/api/v1/audit".to_owned(),
        "/api/v1/suspects?tab=all".to_owned(),
        "/api/v1/suspects/1".to_owned(),
        "/api/v1/suspects/report".to_owned(),
    ];
    let pages = [
        "/".to_owned(),
        "/customers".to_owned(),
        "/customers?q=C000000001".to_owned(),
        format!("/customers/{id}"),
        format!("/customers/{id}/change"),
        "/proposals".to_owned(),
        "/proposals?status=".to_owned(),
        "/credit".to_owned(),
        "/audit".to_owned(),
        "/imports".to_owned(),
        "/suspects?tab=all".to_owned(),
        "/suspects/1".to_owned(),
        "/suspects/report".to_owned(),
    ];
    let mut shown = 0;
    for role in Role::ALL.iter().copied() {
        let api = app.api_as(role).await;
        for path in &api_paths {
            let r = api.get(path).await;
            shown += usize::from(r.status == StatusCode::OK);
            check(role, path, &r.body.to_string());
        }
        let lookup = json!({ "name": NAME, "id_number": ID, "purpose": "贷前调查" });
        check(role, "credit lookup", &api.post("/api/v1/credit-lookups", lookup).await.body.to_string());
        let (web, token) = ui_login(&app, role).await;
        for path in &pages {
            let res = web.get(format!("{}{path}", app.base)).send().await.unwrap();
            shown += usize::from(res.status() == StatusCode::OK);
            check(role, path, &res.text().await.unwrap());
        }
        let form = [("_csrf", token.as_str()), ("name", NAME), ("id_number", ID), ("purpose", "贷前调查")];
        let res = web.post(format!("{}/credit", app.base)).form(&form).send().await.unwrap();
        check(role, "credit page", &res.text().await.unwrap());
    }
    assert!(shown > 60, "the walk reached only {shown} responses");

    // The credit reviewer's hit, as a page: found, and masked.
    let (web, token) = ui_login(&app, Role::CreditReviewer).await;
    let form = [("_csrf", token.as_str()), ("name", NAME), ("id_number", ID), ("purpose", "贷前调查")];
    let page =
        web.post(format!("{}/credit", app.base)).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("110105********002X") && page.contains("C000000001"),
        "the lookup finds the customer"
    );

    // A reveal through the page shows the mobile, and only the mobile.
    let (web, token) = ui_login(&app, Role::AccountManager).await;
    let form =
        [("_csrf", token.as_str()), ("field", "mobile"), ("account_id", ""), ("reason", "reveal_verify")];
    let res = web.post(format!("{}/customers/{id}/reveal", app.base)).form(&form).send().await.unwrap();
    // POST → redirect → GET: the 360 shows the value once.
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/customers/{id}?shown=1"));
    let res = web.get(format!("{}{back}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains(MOBILE), "the revealed mobile is shown");
    assert!(page.contains("已显示完整信息（已记录审计）：手机号码"), "the message names the field");
    let again = web.get(format!("{}{back}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains(MOBILE), "shown once: a reload is masked again");
    for s in [ID, ACCOUNT, NEW_MOBILE, "建国路88号", "三丰"] {
        assert!(!page.contains(s), "a reveal of the mobile shows another field");
    }
    let reveals = app.audit_actions("customer.reveal").await;
    assert_eq!(reveals.len(), 1);
    assert_eq!(reveals[0].entry.reason, "reveal_verify");
    assert!(reveals[0].entry.detail.contains("138****5678"), "audited with the masked value");
    // Without a reason: refused, named, nothing shown.
    let form = [("_csrf", token.as_str()), ("field", "id_number"), ("account_id", ""), ("reason", "other")];
    let res = web.post(format!("{}/customers/{id}/reveal", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("请说明查看完整信息的原因") && !page.contains(ID));
}

/// R-AUD-3: the auditor finds what was done to one customer by its customer number; an
/// unknown number finds nothing.
async fn audit_search_finds_a_customers_records(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let manager = app.api_as(Role::AccountManager).await;
    assert_eq!(manager.get(&format!("/api/v1/customers/{id}")).await.status, StatusCode::OK);
    let change = json!({ "kind": "modify", "changes": { "address": "南京市玄武区中山路1号" } });
    let r = manager.post(&format!("/api/v1/customers/{id}/proposals"), change).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let r = auditor.get("/api/v1/audit?customer=C000000001").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let actions: Vec<&str> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"customer.view") && actions.contains(&"customer.propose"), "{actions:?}");
    assert!(!actions.contains(&"customer.search"), "only records about this customer: {actions:?}");
    let r = auditor.get("/api/v1/audit?customer=C999999999").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
}

/// Mobiles and IDs are found by their blind index, whole only: a part of one that finds no
/// customer number says so instead of an unexplained empty list.
async fn a_partial_number_that_finds_nothing_is_explained(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    seed(&app).await;
    let (web, _) = ui_login(&app, Role::AccountManager).await;
    let page = |q: &str| {
        let req = web.get(format!("{}/customers", app.base)).query(&[("q", q)]);
        async move { req.send().await.unwrap().text().await.unwrap() }
    };
    assert!(page("1381234").await.contains("部分号码不能查询"));
    let whole = page(MOBILE).await;
    assert!(!whole.contains("部分号码不能查询") && whole.contains("C000000001"), "the whole mobile finds it");
}

/// What the customer already holds is not part of a change: the reviewer sees exactly the
/// fields that change, and a "change" to the same values is refused as no change.
async fn a_proposal_lists_exactly_the_changed_fields(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let propose = format!("/api/v1/customers/{id}/proposals");
    let same = json!({ "mobile": MOBILE, "gender": "female", "birth_date": "1949-12-31", "id_number": ID,
        "name": NAME, "address": "北京市朝阳区建国路88号" });
    let r = am.post(&propose, json!({ "kind": "modify", "changes": same })).await;
    assert_eq!(r.body["error"]["fields"][0]["rule"], "err.nothing_changed", "{:?}", r.body);
    let mut changes = same.clone();
    changes["occupation"] = json!("教师");
    let r = am.post(&propose, json!({ "kind": "modify", "changes": changes })).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let sup = app.api_as(Role::AmSupervisor).await;
    let list = sup.get("/api/v1/proposals?status=pending").await;
    let after: serde_json::Value =
        serde_json::from_str(list.body["items"][0]["after_masked"].as_str().unwrap()).unwrap();
    assert_eq!(after, json!({ "occupation": "教师" }), "only the occupation changes");
}
