//! Seeing full values through the pages (R-PRV-2): several fields of one customer in one
//! step, and a reviewer's full before → after of a proposal — each an audited reveal, shown
//! once by the page the POST redirects to, masked again on reload.

use pcis_domain::audit::Outcome;
use pcis_domain::role::Role;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::customers::{ID, MOBILE, NEW_MOBILE, seed};
use crate::helpers::{Backend, spawn_app, ui_login};

both_backends!(several_fields_are_revealed_in_one_step, a_reviewer_sees_the_full_change_once);

async fn several_fields_are_revealed_in_one_step(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let (web, token) = ui_login(&app, Role::AccountManager).await;
    let page = web.get(format!("{}/customers/{id}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"id="reveal-many""#) && !page.contains(ID), "one form offers several fields");
    let form = [
        ("_csrf", token.as_str()),
        ("field", "id_number"),
        ("field", "mobile"),
        ("reason", "reveal_request"),
    ];
    let res = web.post(format!("{}/customers/{id}/reveal", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let page = web.get(format!("{}{back}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(ID) && page.contains(MOBILE), "both values are shown");
    assert!(
        page.contains("已显示完整信息（已记录审计）：证件号码、手机号码"),
        "the message names both fields"
    );
    assert!(!page.contains("6222021234567890128"), "nothing else is revealed");
    let reveals = app.audit_actions("customer.reveal").await;
    assert_eq!(reveals.len(), 2, "one audit record per field");
    assert!(
        reveals.iter().all(|r| r.entry.reason == "reveal_request" && r.entry.outcome == Outcome::Success)
    );
    let again = web.get(format!("{}{back}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains(ID) && !again.contains(MOBILE), "a reload is masked again");

    // A field that cannot be revealed refuses the whole step and reveals nothing.
    let form =
        [("_csrf", token.as_str()), ("field", "mobile"), ("field", "nonsense"), ("reason", "reveal_request")];
    let res = web.post(format!("{}/customers/{id}/reveal", app.base)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.audit_actions("customer.reveal").await.len(), 2);
}

async fn a_reviewer_sees_the_full_change_once(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let id = seed(&app).await;
    let am = app.api_as(Role::AccountManager).await;
    let change = json!({ "kind": "modify", "changes": { "mobile": NEW_MOBILE, "occupation": "教师" } });
    let r = am.post(&format!("/api/v1/customers/{id}/proposals"), change).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let pid = r.body["proposal"].as_i64().unwrap();
    let review = format!("{}/proposals/{pid}/review", app.base);

    // The maker may not review (nor decide) its own proposal.
    let (maker, token) = ui_login(&app, Role::AccountManager).await;
    let res = maker.post(&review).form(&[("_csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (web, token) = ui_login(&app, Role::AmSupervisor).await;
    let queue = web.get(format!("{}/proposals", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(queue.contains(&format!("/proposals/{pid}/review")) && !queue.contains(NEW_MOBILE));
    let res = web.post(&review).form(&[("_csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    let page = web.get(format!("{}{back}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(MOBILE) && page.contains(NEW_MOBILE), "before and after in full");
    assert!(page.contains("教师"));
    let mobile_at = page.find("手机号码").unwrap();
    assert!(mobile_at < page.find("职业").unwrap(), "fields in the customer form's order");
    let reveals = app.audit_actions("customer.reveal").await;
    let mine: Vec<_> = reveals.iter().filter(|r| r.entry.outcome == Outcome::Success).collect();
    assert_eq!(mine.len(), 1, "{reveals:?}");
    assert_eq!(mine[0].entry.reason, "review");
    assert!(
        mine[0].entry.detail.contains(r#""purpose":"review""#) && !mine[0].entry.detail.contains(NEW_MOBILE)
    );
    assert_eq!(mine[0].entry.target_id, id.to_string());
    let denied = reveals.iter().filter(|r| r.entry.outcome == Outcome::Denied).count();
    assert_eq!(denied, 1, "the maker's attempt is audited: {reveals:?}");
    let again = web.get(format!("{}{back}", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!again.contains(NEW_MOBILE), "a reload is masked again");

    // The same through the API: the reviewer gets the full values, the maker a refusal.
    let sup = app.api_as(Role::AmSupervisor).await;
    let r = sup.post(&format!("/api/v1/proposals/{pid}/review"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mobile =
        r.body["items"].as_array().unwrap().iter().find(|c| c["field"] == "mobile").cloned().unwrap();
    assert_eq!((mobile["before"].as_str(), mobile["after"].as_str()), (Some(MOBILE), Some(NEW_MOBILE)));
    let r = am.post(&format!("/api/v1/proposals/{pid}/review"), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Once decided, there is nothing left to review.
    let r = sup
        .post(&format!("/api/v1/proposals/{pid}/decision"), json!({ "approve": true, "comment": "" }))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.body);
    let res = web.post(&review).form(&[("_csrf", token.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
}
