//! The workflow kit through the real server, on both backends: one pending request per
//! object, withdrawal by the maker only, rejection and withdrawal leave the object as it was,
//! and of two concurrent steps exactly one wins.

use pcis_domain::role::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::customers::seed;
use crate::helpers::{Api, Backend, TestApp, spawn_app, ui_login};

both_backends!(
    one_pending_proposal_per_customer_withdrawn_by_its_proposer,
    concurrent_steps_exactly_one_wins,
    a_proposal_waiting_past_its_due_date_is_escalated
);

async fn propose(am: &Api, id: i64, occupation: &str) -> crate::helpers::Reply {
    let change = json!({ "kind": "modify", "changes": { "occupation": occupation } });
    am.post(&format!("/api/v1/customers/{id}/proposals"), change).await
}

async fn occupation(app: &TestApp, id: i64) -> String {
    let am = app.api_as(Role::AccountManager).await;
    am.get(&format!("/api/v1/customers/{id}")).await.body["detail"]["record"]["occupation"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn status_of(sup: &Api, pid: i64) -> String {
    let all = sup.get("/api/v1/proposals").await;
    let item = all.body["items"].as_array().unwrap().iter().find(|p| p["id"] == pid).cloned();
    item.map(|p| p["status"].as_str().unwrap().to_owned()).unwrap_or_default()
}

async fn one_pending_proposal_per_customer_withdrawn_by_its_proposer(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let sup = app.api_as(Role::AmSupervisor).await;
    let first = propose(&am, id, "教师").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    let pid = first.body["proposal"].as_i64().unwrap();

    // A second proposal for the same customer is refused, naming the first.
    let second = propose(&am, id, "医生").await;
    assert_eq!(
        (second.status, second.code()),
        (StatusCode::CONFLICT, "already_pending"),
        "{:?}",
        second.body
    );
    assert_eq!(second.body["error"]["pending_id"], pid);
    assert!(second.body["error"]["message"].as_str().unwrap().contains(&pid.to_string()));

    // Only the proposer withdraws: a reviewer (who proposes nothing) and another proposer of
    // the same outlet are refused, and both refusals are audited.
    let withdraw = format!("/api/v1/proposals/{pid}/withdrawal");
    let r = sup.post(&withdraw, json!({ "comment": "" })).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("deny.no_permission"))
    );
    let clerk = app.api_as(Role::DataEntry).await;
    let r = clerk.post(&withdraw, json!({ "comment": "" })).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("deny.step_not_yours"))
    );
    let refused = app.audit_actions("customer.withdraw").await;
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(|r| r.entry.outcome == pcis_domain::audit::Outcome::Denied));
    let r = am.post(&withdraw, json!({ "comment": "客户改主意了" })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    assert_eq!(status_of(&sup, pid).await, "withdrawn");
    assert_eq!(occupation(&app, id).await, "", "withdrawing leaves the customer as it was");

    // A withdrawn proposal is finished: no step takes it anywhere.
    let decide = format!("/api/v1/proposals/{pid}/decision");
    let r = sup.post(&decide, json!({ "approve": true, "comment": "" })).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(am.post(&withdraw, json!({ "comment": "" })).await.status, StatusCode::CONFLICT);

    // The customer is free for a new proposal; rejecting it also changes nothing.
    let next = propose(&am, id, "医生").await;
    assert_eq!(next.status, StatusCode::ACCEPTED, "{:?}", next.body);
    let nid = next.body["proposal"].as_i64().unwrap();
    let r = sup
        .post(&format!("/api/v1/proposals/{nid}/decision"), json!({ "approve": false, "comment": "" }))
        .await;
    assert_eq!(r.body["error"]["field"], "comment", "a rejection says why");
    let r = sup
        .post(
            &format!("/api/v1/proposals/{nid}/decision"),
            json!({ "approve": false, "comment": "证明材料不全" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(occupation(&app, id).await, "", "rejecting leaves the customer as it was");
}

/// Approve against reject, and approve against the proposer's withdrawal, sent at the same
/// moment: one wins, the other is told the request is finished, and the customer shows the
/// winner's outcome only.
async fn concurrent_steps_exactly_one_wins(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let sup = app.api_as(Role::AmSupervisor).await;
    for round in 0..4 {
        let wanted = format!("职业{round}");
        let before = occupation(&app, id).await;
        let pid = propose(&am, id, &wanted).await.body["proposal"].as_i64().unwrap();
        let (decide, withdraw) =
            (format!("/api/v1/proposals/{pid}/decision"), format!("/api/v1/proposals/{pid}/withdrawal"));
        let approve = sup.post(&decide, json!({ "approve": true, "comment": "" }));
        let (a, other) = if round % 2 == 0 {
            tokio::join!(approve, sup.post(&decide, json!({ "approve": false, "comment": "不同意" })))
        } else {
            tokio::join!(approve, am.post(&withdraw, json!({ "comment": "" })))
        };
        let mut statuses = [a.status, other.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
            "round {round}: {a:?} {other:?}",
            a = a.body,
            other = other.body
        );
        let status = status_of(&sup, pid).await;
        if a.status == StatusCode::NO_CONTENT {
            assert_eq!(status, "approved");
            assert_eq!(occupation(&app, id).await, wanted);
        } else {
            assert_eq!(status, if round % 2 == 0 { "rejected" } else { "withdrawn" });
            assert_eq!(occupation(&app, id).await, before, "the loser changed nothing");
        }
    }
}

/// The kit's escalation: a proposal is due two working days after it is made; the nightly
/// job marks one still pending after that overdue, once, and it reaches the reviewer's
/// workbench as such. A decided one is never marked.
async fn a_proposal_waiting_past_its_due_date_is_escalated(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let pid = propose(&am, id, "教师").await.body["proposal"].as_i64().unwrap();
    let sup = app.api_as(Role::AmSupervisor).await;
    let item = sup.get("/api/v1/proposals?status=pending").await.body["items"][0].clone();
    assert_eq!((item["id"].as_i64(), item["overdue"].as_bool()), (Some(pid), Some(false)));
    let due = item["due_on"].as_str().unwrap().to_owned();
    assert!(due > app.app.today(), "due after today: {due}");

    assert_eq!(app.app.escalate_overdue_proposals().await.unwrap(), 0, "not yet due");
    // A week later (two working days are past whatever the weekday).
    app.clock.advance(time::Duration::days(7));
    assert_eq!(app.app.escalate_overdue_proposals().await.unwrap(), 1);
    assert_eq!(app.app.escalate_overdue_proposals().await.unwrap(), 0, "marked once");
    // A new session: the last one ended with the week.
    let sup = app.api_as(Role::AmSupervisor).await;
    let item = sup.get("/api/v1/proposals?status=pending").await.body["items"][0].clone();
    assert_eq!(item["overdue"].as_bool(), Some(true));
    let marked = app.audit_actions("customer.overdue").await;
    assert_eq!(marked.len(), 1);

    let (web, _) = ui_login(&app, Role::AmSupervisor).await;
    let home = web.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("超时未审核的客户信息变更"), "on the reviewer's workbench");
    let queue = web.get(format!("{}/proposals", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(queue.contains("已超时"));

    // Decided, it leaves the overdue count; nothing new is marked.
    let r = sup
        .post(&format!("/api/v1/proposals/{pid}/decision"), json!({ "approve": true, "comment": "" }))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let home = web.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!home.contains("超时未审核的客户信息变更"));
}
