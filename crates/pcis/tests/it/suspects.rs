//! The suspicious customer information list (R-ETL-4) through the real API: items are
//! routed to the outlets owning their customers and to no one else, are due three working
//! days after listing (the calendar's holidays skipped), escalate to the department head when
//! overdue, are closed with an outcome and a note, and feed the staff report.

use pcis_domain::role::Role;
use pcis_domain::suspect::WorkCalendar;
use pcis_service::bootstrap::SeedCustomer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(items_are_routed_escalated_and_closed, the_to_do_lists_items_its_reader_can_resolve);

/// A customer of `outlet` with a mobile (and, when given, a manager).
fn customer(no: &str, outlet: &str, mobile: &str, manager: Option<&str>) -> SeedCustomer {
    SeedCustomer {
        customer_no: no.into(),
        input: pcis_domain::customer::CustomerInput {
            name: "李可疑".into(),
            gender: "female".into(),
            birth_date: "1949-12-31".into(),
            id_type: "resident_id".into(),
            id_number: "11010519491231002X".into(),
            mobile: mobile.into(),
            address: "南京市玄武区中山路1号".into(),
            ..Default::default()
        },
        outlet_code: outlet.into(),
        manager: manager.map(Into::into),
        ..Default::default()
    }
}

/// The item whose customers include `customer_no`, as stored.
async fn item_of(app: &TestApp, customer_no: &str) -> i64 {
    let mut tx = app.app.db.begin_read().await.unwrap();
    pcis_store::on_tx!(&mut tx, c => sqlx::query_scalar(
        "SELECT m.item_id FROM suspect_member m JOIN customer c ON c.id = m.customer_id WHERE c.customer_no = $1"
    ).bind(customer_no).fetch_one(c).await)
    .unwrap()
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"].as_array().unwrap().iter().map(|i| i["id"].as_i64().unwrap()).collect()
}

fn today(app: &TestApp) -> time::Date {
    app.app.clock.now().to_offset(time::macros::offset!(+8)).date()
}

async fn items_are_routed_escalated_and_closed(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    // Tomorrow is a holiday: the due date moves one working day further.
    let holiday = today(&app) + Duration::days(1);
    {
        let mut tx = app.app.db.begin().await.unwrap();
        pcis_store::exec!(
            &mut tx,
            sqlx::query("INSERT INTO calendar_day (day, working, name) VALUES ($1, FALSE, '测试假日')")
                .bind(holiday.to_string())
        )
        .unwrap();
        tx.commit().await.unwrap();
    }
    let manager = "u_account_manager";
    let seeds = [
        // O1 (the manager's) and O3 (another province) share a mobile.
        customer("SQ1", "O1", "13811110001", Some(manager)),
        customer("SQ2", "O3", "13811110001", None),
        // Two customers of O3 only.
        customer("SQ3", "O3", "13811110002", None),
        customer("SQ4", "O3", "13811110002", None),
        // A second item for the same manager, and a customer with a mobile of its own.
        customer("SQ5", "O1", "13811110003", Some(manager)),
        customer("SQ6", "O2", "13811110003", None),
        customer("SQ7", "O1", "13811110004", Some(manager)),
    ];
    app.app.seed_customers(&seeds).await.unwrap();
    let build = app.app.build_suspect_list().await.unwrap();
    assert_eq!((build.groups, build.listed, build.escalated), (3, 3, 0));
    let (both, o3_only, o1_o2) =
        (item_of(&app, "SQ1").await, item_of(&app, "SQ3").await, item_of(&app, "SQ5").await);
    let mut o1_items = vec![both, o1_o2];
    o1_items.sort();

    // Routing: the outlet supervisor of O1 sees the items with an O1 customer, not the O3 pair;
    // the other province's customer shows only its institution.
    let supervisor = app.api_as(Role::AmSupervisor).await;
    let list = supervisor.get("/api/v1/suspects").await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let mut seen = ids(&list.body);
    seen.sort();
    assert_eq!(seen, o1_items);
    let item = supervisor.get(&format!("/api/v1/suspects/{both}")).await;
    assert_eq!(item.status, StatusCode::OK);
    let members = item.body["members"].as_array().unwrap().clone();
    assert_eq!(members.len(), 2);
    let other = members.iter().find(|m| m["in_reach"] == json!(false)).expect("the O3 customer");
    assert_eq!((other["customer_no"].as_str(), other["owner_name"].as_str()), (Some(""), Some("湖滨路网点")));
    let r = supervisor.get(&format!("/api/v1/suspects/{o3_only}")).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("deny.out_of_scope"))
    );
    // The account manager sees the items of its own customers; the department head of C1 both.
    let mut mine = ids(&app.api_as(Role::AccountManager).await.get("/api/v1/suspects").await.body);
    mine.sort();
    assert_eq!(mine, o1_items);
    assert_eq!(ids(&app.api_as(Role::DeptHead).await.get("/api/v1/suspects").await.body).len(), 2);

    // Due three working days after listing, the holiday and weekends skipped.
    let calendar = WorkCalendar::new([(holiday, false)]);
    let due = calendar.add_working_days(today(&app), 3);
    assert_eq!(item.body["due_on"].as_str(), Some(due.to_string().as_str()));
    assert_eq!(item.body["listed_on"].as_str(), Some(today(&app).to_string().as_str()));

    // A note is required, and an outcome must be one of the three.
    let url = format!("/api/v1/suspects/{o1_o2}/resolution");
    let r = supervisor.post(&url, json!({ "outcome": "genuine", "note": " " })).await;
    assert_eq!(
        (r.status, r.body["error"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("note"))
    );
    let r = supervisor.post(&url, json!({ "outcome": "open", "note": "x" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = supervisor.post(&url, json!({ "outcome": "genuine", "note": "夫妻共用手机，已电话核实" })).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("genuine")), "{:?}", r.body);
    let r = supervisor.post(&url, json!({ "outcome": "corrected", "note": "再次处理" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // On the due date the item is still the outlet's; the day after, the nightly build
    // escalates it to the department head.
    let days_to_due = (due - today(&app)).whole_days();
    app.clock.advance(Duration::days(days_to_due));
    assert_eq!(app.app.build_suspect_list().await.unwrap().escalated, 0);
    app.clock.advance(Duration::days(1));
    let build = app.app.build_suspect_list().await.unwrap();
    assert_eq!((build.listed, build.escalated), (0, 2), "the O1/O3 item and the O3 pair");
    let head = app.api_as(Role::DeptHead).await;
    let escalated = head.get("/api/v1/suspects?tab=escalated").await;
    assert_eq!(ids(&escalated.body), [both]);
    assert_eq!(escalated.body["items"][0]["overdue"], json!(true));
    // A page far past the end is bounded like every list's (it once overflowed the offset).
    let far = head.get("/api/v1/suspects?tab=escalated&page=9223372036854775806").await;
    assert_eq!((far.status, far.body["page"].as_i64()), (StatusCode::OK, Some(100_000)), "{:?}", far.body);
    let home = crate::helpers::ui_login(&app, Role::DeptHead).await;
    let page = home.0.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("已上报的可疑客户信息"), "the head's to-do names the escalated item");

    // Escalated items are closed, not escalated again; the head closes it as corrected.
    let url = format!("/api/v1/suspects/{both}/resolution");
    let r = head.post(&url, json!({ "outcome": "escalated", "note": "再上报" })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = head.post(&url, json!({ "outcome": "corrected", "note": "已取得客户证明并更正手机号" })).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("corrected")), "{:?}", r.body);
    let closed = app.audit_actions("suspect.resolve").await;
    assert_eq!(closed.iter().filter(|r| r.entry.outcome == pcis_domain::audit::Outcome::Success).count(), 2);

    // The manager's customers showed two items: the report names the manager, with both.
    let report = head.get("/api/v1/suspects/report?days=30").await;
    assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
    let lines = report.body["items"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (lines[0]["items"].as_i64(), lines[0]["corrected"].as_i64(), lines[0]["overdue"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(lines[0]["user_id"].as_i64(), Some(app.user_id(manager).await));
    // Without the grant, no report.
    let r = app.api_as(Role::AccountManager).await.get("/api/v1/suspects/report").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

/// A to-do lists only what its reader can act on: the outlet supervisor, who resolves, sees
/// the open item on its home page and the item names who handles it; the account manager,
/// who only sees its customers' items, has nothing to do there.
async fn the_to_do_lists_items_its_reader_can_resolve(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let manager = crate::helpers::username_of(Role::AccountManager);
    let seeds = [
        customer("S1A", "O1", "13700000001", Some(&manager)),
        customer("S1B", "O1", "13700000001", Some(&manager)),
    ];
    app.app.seed_customers(&seeds).await.unwrap();
    app.app.build_suspect_list().await.unwrap();
    let item = item_of(&app, "S1A").await;
    let home = |role: Role| {
        let app = &app;
        async move {
            let (web, _) = crate::helpers::ui_login(app, role).await;
            let home = web.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
            let page =
                web.get(format!("{}/suspects/{item}", app.base)).send().await.unwrap().text().await.unwrap();
            (home, page)
        }
    };
    let (sup_home, sup_item) = home(Role::AmSupervisor).await;
    assert!(sup_home.contains("待排查的可疑客户信息"), "{sup_home}");
    assert!(sup_item.contains("处理人") && sup_item.contains("客户所属网点的客户经理主管"), "{sup_item}");
    assert!(sup_item.contains(r#"name="outcome""#), "the supervisor is offered the resolution form");
    let (am_home, am_item) = home(Role::AccountManager).await;
    assert!(!am_home.contains("待排查的可疑客户信息"), "{am_home}");
    assert!(!am_item.contains(r#"name="outcome""#), "no form for one who cannot resolve");
}
