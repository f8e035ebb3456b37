//! The permission matrix (R-USR-6), cell by cell through the real JSON API: every role × every
//! action × a target inside and outside the actor's subtree (R-ORG-2). The expected answer is
//! computed from the matrix rows stored in the database, so the test follows the data, and a
//! new action fails here twice over: it has no matrix row, and `request_for` does not compile
//! until it says how to exercise the action over HTTP.

use std::collections::HashMap;

use pcis_domain::audit::Outcome;
use pcis_domain::role::{Action, Grant, Role, Scope};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Api, Backend, Reply, TestApp, home_of, seed_tree, spawn_app, username_of};

both_backends!(
    every_cell_of_the_matrix,
    lists_and_lookups_stay_in_scope,
    unauthorised_requests_are_refused_before_they_are_validated
);

/// Which branch of the seeded tree a request aims at. Every test user sits on P1's branch
/// (see `home_of`), so targets there are normally in scope and targets under P2 never are;
/// whether a target really is in an actor's scope is still computed per role from the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    P1,
    P2,
}

impl Side {
    const ALL: [Side; 2] = [Side::P1, Side::P2];

    /// Where the side's targets live: an outlet, the deepest level, so that the P1 outlet is
    /// inside every test user's home subtree (homes are P1, C1, S1 or O1 itself).
    fn outlet(self) -> &'static str {
        match self {
            Side::P1 => "O1",
            Side::P2 => "O3",
        }
    }

    /// For names and staff numbers of the users made per side.
    fn tag(self) -> &'static str {
        match self {
            Side::P1 => "p1",
            Side::P2 => "p2",
        }
    }
}

/// What the requests of one side act on, prepared before any actor logs in.
struct SideTargets {
    institution_id: i64,
    /// The outlet's current fields: a PUT of these is an edit that changes nothing.
    unchanged: Value,
    /// The account the account operations (view, freeze, unlock, reset, force logout) act on;
    /// none of these change what later cells decide, and it is never an actor itself.
    account_user: i64,
    /// Per acting role, a user whose roles only that actor changes, so each attempt starts
    /// from the roles `role_change_for` expects.
    roles_user: HashMap<Role, i64>,
    /// The side's customer: on P1 at O1, assigned to the test account manager and (a VIP
    /// member) to the test VIP specialist; on P2 at O3, served by someone at O3.
    customer: TargetCustomer,
    /// Per acting role, a pending proposal about the side's customer for it to decide.
    proposal: HashMap<Role, i64>,
    /// Per acting role, an open suspicious item (two customers of the side's outlet sharing
    /// a mobile) for it to close.
    suspect: HashMap<Role, i64>,
}

struct TargetCustomer {
    id: i64,
    name: String,
    id_number: String,
}

/// One HTTP request exercising one action.
struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
    /// The institution the target belongs to (None: the action has no per-record target).
    target: Option<&'static str>,
    /// The audit action the service records for it, also when it is denied.
    audit_action: &'static str,
}

/// The roles an actor grants in `user.create` (the second) and swaps in `user.edit_roles`
/// (first → second). Chosen among the roles the actor administers when it administers any
/// (R-USR-4), so that a denial of a granted cell means the matrix, not the separation of
/// duties; `expected` still accounts for the latter.
fn role_change_for(actor: Role) -> (Role, Role) {
    if actor == Role::SysAdmin {
        (Role::SecurityAuditor, Role::BizAdmin)
    } else {
        (Role::DeptStaff, Role::AccountManager)
    }
}

/// The request that exercises `action` as `actor` against the side's targets; `None` where the
/// side does not apply (the audit search has no per-record target, so it has one side only).
/// No wildcard arm: a new `Action` must be given a request here before this compiles.
fn request_for(action: Action, side: Side, actor: Role, t: &SideTargets) -> Option<Request> {
    let to = |method: Method, path: String, body: Option<Value>, audit_action| {
        Some(Request { method, path, body, target: Some(side.outlet()), audit_action })
    };
    let user = t.account_user;
    let account = |op: &str| Some(json!({ "op": op, "reason": "测试" }));
    let (_, granted) = role_change_for(actor);
    match action {
        Action::InstitutionView => {
            to(Method::GET, format!("/api/v1/institutions/{}", t.institution_id), None, "institution.view")
        }
        Action::InstitutionManage => to(
            Method::PUT,
            format!("/api/v1/institutions/{}", t.institution_id),
            Some(t.unchanged.clone()),
            "institution.update",
        ),
        Action::UserView => to(Method::GET, format!("/api/v1/users/{user}"), None, "user.view"),
        Action::UserCreate => {
            // One creation per actor and side, so the name and staff number are unique.
            let n = Role::ALL.iter().position(|r| *r == actor).unwrap();
            let body = json!({
                "username": format!("new_{}_{}", actor.code(), side.tag()),
                "display_name": "矩阵新用户",
                "staff_no": format!("N{n:02}{}", side.tag()),
                "institution_code": side.outlet(),
                "roles": [granted.code()],
            });
            to(Method::POST, "/api/v1/users".into(), Some(body), "user.create")
        }
        Action::UserEditRoles => to(
            Method::PUT,
            format!("/api/v1/users/{}/roles", t.roles_user[&actor]),
            Some(json!({ "roles": [granted.code()] })),
            "user.edit_roles",
        ),
        Action::UserFreeze => {
            to(Method::POST, format!("/api/v1/users/{user}/account"), account("freeze"), "user.freeze")
        }
        Action::UserUnlock => {
            to(Method::POST, format!("/api/v1/users/{user}/account"), account("unlock"), "user.unlock")
        }
        Action::UserResetPassword => to(
            Method::POST,
            format!("/api/v1/users/{user}/reset-password"),
            Some(json!({})),
            "user.reset_password",
        ),
        Action::UserForceLogout => to(
            Method::POST,
            format!("/api/v1/users/{user}/account"),
            account("force_logout"),
            "user.force_logout",
        ),
        Action::AuditSearch => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/audit".into(),
                body: None,
                target: None,
                audit_action: "audit.search",
            }),
            Side::P2 => None,
        },
        Action::CustomerSearch => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/customers?q=%E5%BC%A0".into(),
                body: None,
                target: None,
                audit_action: "customer.search",
            }),
            Side::P2 => None,
        },
        Action::CustomerView => {
            to(Method::GET, format!("/api/v1/customers/{}", t.customer.id), None, "customer.view")
        }
        Action::CustomerViewDetail => to(
            Method::GET,
            format!("/api/v1/customers/{}/transactions", t.customer.id),
            None,
            "customer.transactions",
        ),
        Action::CustomerReveal => to(
            Method::POST,
            format!("/api/v1/customers/{}/reveal", t.customer.id),
            Some(json!({ "field": "mobile", "reason": "核实身份" })),
            "customer.reveal",
        ),
        Action::CustomerPropose => to(
            Method::POST,
            format!("/api/v1/customers/{}/proposals", t.customer.id),
            Some(json!({ "kind": "modify", "changes": { "occupation": "教师" } })),
            "customer.propose",
        ),
        Action::CustomerApprove => to(
            Method::POST,
            format!("/api/v1/proposals/{}/decision", t.proposal[&actor]),
            Some(json!({ "approve": false, "comment": "矩阵测试驳回" })),
            "customer.reject",
        ),
        Action::CustomerCreditLookup => to(
            Method::POST,
            "/api/v1/credit-lookups".into(),
            Some(
                json!({ "name": t.customer.name, "id_number": t.customer.id_number, "purpose": "贷前审查" }),
            ),
            "customer.credit_lookup",
        ),
        Action::RoleView => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/roles".into(),
                body: None,
                target: None,
                audit_action: "role.view",
            }),
            Side::P2 => None,
        },
        Action::ParameterManage => match side {
            // The defaults again: a change that moves no threshold.
            Side::P1 => Some(Request {
                method: Method::PUT,
                path: "/api/v1/parameters".into(),
                body: Some(
                    json!({ "gold": "50000", "platinum": "500000", "diamond": "2000000", "vip": "2000000" }),
                ),
                target: None,
                audit_action: "parameter.update",
            }),
            Side::P2 => None,
        },
        Action::SuspectView => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/suspects?tab=all".into(),
                body: None,
                target: None,
                audit_action: "suspect.list",
            }),
            Side::P2 => None,
        },
        Action::SuspectReport => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/suspects/report".into(),
                body: None,
                target: None,
                audit_action: "suspect.report",
            }),
            Side::P2 => None,
        },
        Action::SuspectResolve => to(
            Method::POST,
            format!("/api/v1/suspects/{}/resolution", t.suspect[&actor]),
            Some(json!({ "outcome": "genuine", "note": "矩阵测试：家庭共用手机" })),
            "suspect.resolve",
        ),
        Action::ImportView => match side {
            Side::P1 => Some(Request {
                method: Method::GET,
                path: "/api/v1/import-runs".into(),
                body: None,
                target: None,
                audit_action: "import.runs",
            }),
            Side::P2 => None,
        },
    }
}

/// Whether the institution `code` is `home` or below it in the seeded tree.
fn within(home: &str, code: &str) -> bool {
    let tree = seed_tree();
    let mut at = Some(code.to_owned());
    while let Some(c) = at {
        if c == home {
            return true;
        }
        at = tree.iter().find(|i| i.code == c).and_then(|i| i.parent_code.clone());
    }
    false
}

/// The policy's answer for the seeded user of `actor` (who holds that one role, at
/// `home_of(actor)`): allowed, or the denial reason, in the order the services check — a
/// grant, then its scope, then who administers the roles being granted or revoked.
fn expected(grants: &[Grant], actor: Role, action: Action, target: Option<&str>) -> Result<(), &'static str> {
    let scopes: Vec<Scope> =
        grants.iter().filter(|g| g.role == actor && g.action == action).map(|g| g.scope).collect();
    if scopes.is_empty() {
        return Err("deny.no_permission");
    }
    let everywhere = scopes.contains(&Scope::All);
    if let Some(code) = target
        && !everywhere
        && !within(home_of(actor), code)
    {
        return Err("deny.out_of_scope");
    }
    let (from, to) = role_change_for(actor);
    let changed = match action {
        Action::UserCreate => vec![to],
        Action::UserEditRoles => vec![from, to],
        _ => vec![],
    };
    if changed.iter().any(|r| r.administered_by() != actor) {
        return Err("deny.role_not_administered");
    }
    Ok(())
}

/// The policy's answer for a customer action on the side's customer: its grant must reach
/// the customer (see `TargetCustomer`), and a proposal also needs the customer's detail.
fn expected_customer(grants: &[Grant], actor: Role, action: Action, side: Side) -> Result<(), &'static str> {
    let check = |action: Action| {
        let scope = grants.iter().find(|g| g.role == actor && g.action == action).map(|g| g.scope);
        let reaches = match scope {
            None => return Err("deny.no_permission"),
            Some(Scope::All) => true,
            Some(Scope::Subtree | Scope::VipStandard) => within(home_of(actor), side.outlet()),
            // The P1 customer is assigned to the test manager and specialist; the P2 one
            // is not, and does not meet the VIP standard.
            Some(Scope::Assigned | Scope::VipPool) => side == Side::P1,
        };
        if reaches { Ok(()) } else { Err("deny.customer_out_of_scope") }
    };
    match action {
        Action::CustomerPropose => check(action).and_then(|()| check(Action::CustomerViewDetail)),
        _ => check(action),
    }
}

fn is_customer_record_action(action: Action) -> bool {
    matches!(
        action,
        Action::CustomerView
            | Action::CustomerViewDetail
            | Action::CustomerReveal
            | Action::CustomerPropose
            | Action::CustomerCreditLookup
    )
}

/// `None` when the reply is what was expected: any 2xx when allowed; when denied, 403 with
/// code `forbidden` and the expected `deny.*` reason.
fn judge(want: Result<(), &str>, got: &Reply) -> Option<String> {
    let reason = got.body["error"]["reason"].as_str().unwrap_or("");
    let ok = match want {
        Ok(()) => got.status.is_success(),
        Err(want_reason) => {
            got.status == StatusCode::FORBIDDEN
                && got.code() == "forbidden"
                && reason.starts_with("deny.")
                && reason == want_reason
        }
    };
    let want = match want {
        Ok(()) => "allowed (2xx)".to_owned(),
        Err(r) => format!("403 {r}"),
    };
    (!ok).then(|| format!("expected {want}, got {} {}", got.status, got.body))
}

async fn load_grants(app: &TestApp) -> Vec<Grant> {
    let mut tx = app.app.db.begin_read().await.unwrap();
    pcis_store::matrix::load(&mut tx).await.expect("load the permission matrix")
}

async fn side_targets(app: &TestApp, side: Side) -> SideTargets {
    let outlet = side.outlet();
    let inst = {
        let mut tx = app.app.db.begin_read().await.unwrap();
        pcis_store::institutions::get_by_code(&mut tx, outlet).await.unwrap().unwrap()
    };
    let unchanged = json!({
        "code": inst.code,
        "name": inst.name,
        "kind": inst.kind.code(),
        "effective_from": inst.effective_from.to_string(),
    });
    let tag = side.tag();
    let (account_user, _) =
        app.provision(&format!("acct_{tag}"), &format!("A{tag}"), outlet, Role::DeptStaff).await;
    let mut roles_user = HashMap::new();
    for (n, actor) in Role::ALL.iter().enumerate() {
        let name = format!("roles_{}_{tag}", actor.code());
        let (id, _) = app.provision(&name, &format!("R{n:02}{tag}"), outlet, role_change_for(*actor).0).await;
        roles_user.insert(*actor, id);
    }
    let customer = seed_customer(app, side).await;
    let proposer = match side {
        Side::P1 => app.user_id(&username_of(Role::AccountManager)).await,
        Side::P2 => app.user_id("cust_am_p2").await,
    };
    let actor = {
        let mut tx = app.app.db.begin_read().await.unwrap();
        pcis_store::users::load_actor(&mut tx, pcis_domain::user::UserId(proposer)).await.unwrap().unwrap().0
    };
    // Additions, one per deciding role: a customer has one pending change at a time, and the
    // matrix proposes a change to the target customer itself.
    let mut proposal = HashMap::new();
    for role in Role::ALL {
        let new_customer = pcis_domain::customer::CustomerInput {
            name: "王五".into(),
            gender: "male".into(),
            birth_date: "1980-05-01".into(),
            id_type: "resident_id".into(),
            id_number: "110105198005010013".into(),
            mobile: "13700001111".into(),
            address: "南京市玄武区中山路1号".into(),
            occupation: format!("职业{}", role.code()),
            ..Default::default()
        };
        let id = app
            .app
            .propose_new_customer(&actor, &Default::default(), &new_customer)
            .await
            .expect("a proposal to decide");
        proposal.insert(*role, id);
    }
    let suspect = seed_suspects(app, side).await;
    SideTargets {
        institution_id: inst.id.0,
        unchanged,
        account_user,
        roles_user,
        customer,
        proposal,
        suspect,
    }
}

/// Per role, two customers of the side's outlet sharing a mobile, listed as one open item.
async fn seed_suspects(app: &TestApp, side: Side) -> HashMap<Role, i64> {
    use pcis_service::bootstrap::SeedCustomer;
    let manager = match side {
        Side::P1 => username_of(Role::AccountManager),
        Side::P2 => "cust_am_p2".to_owned(),
    };
    let s = Side::ALL.iter().position(|x| *x == side).unwrap();
    let mut seeds = Vec::new();
    for (n, _) in Role::ALL.iter().enumerate() {
        for twin in 0..2 {
            let input = pcis_domain::customer::CustomerInput {
                name: "王可疑".into(),
                gender: "male".into(),
                birth_date: "1880-01-01".into(),
                id_type: "resident_id".into(),
                id_number: "440524188001010014".into(),
                mobile: format!("137{s}{n:02}00000"),
                address: "杭州市西湖区湖滨路1号".into(),
                ..Default::default()
            };
            seeds.push(SeedCustomer {
                customer_no: format!("SX{}{n:02}{twin}", side.tag()),
                input,
                outlet_code: side.outlet().into(),
                manager: Some(manager.clone()),
                ..Default::default()
            });
        }
    }
    app.app.seed_customers(&seeds).await.expect("seed customers sharing mobiles");
    app.app.build_suspect_list().await.expect("build the suspicious list");
    let mut items = HashMap::new();
    for (n, role) in Role::ALL.iter().enumerate() {
        let no = format!("SX{}{n:02}0", side.tag());
        let mut tx = app.app.db.begin_read().await.unwrap();
        let id: i64 = pcis_store::on_tx!(&mut tx, c => sqlx::query_scalar(
            "SELECT m.item_id FROM suspect_member m JOIN customer c ON c.id = m.customer_id WHERE c.customer_no = $1"
        ).bind(&no).fetch_one(c).await)
        .unwrap();
        items.insert(*role, id);
    }
    items
}

/// Seeds the side's customer (see `SideTargets::customer`).
async fn seed_customer(app: &TestApp, side: Side) -> TargetCustomer {
    use pcis_service::bootstrap::{SeedAccount, SeedCustomer};
    let (name, id_number, outlet, manager, specialist, balance) = match side {
        Side::P1 => (
            "张三丰",
            "11010519491231002X",
            "O1",
            username_of(Role::AccountManager),
            Some(username_of(Role::VipSpecialist)),
            300_000_000,
        ),
        Side::P2 => ("张无忌", "440524188001010014", "O3", "cust_am_p2".to_owned(), None, 1_000_000),
    };
    if side == Side::P2 {
        app.provision("cust_am_p2", "CAMP2", "O3", Role::AccountManager).await;
    }
    let input = pcis_domain::customer::CustomerInput {
        name: name.into(),
        gender: if side == Side::P1 { "female" } else { "male" }.into(),
        birth_date: if side == Side::P1 { "1949-12-31" } else { "1880-01-01" }.into(),
        id_type: "resident_id".into(),
        id_number: id_number.into(),
        mobile: if side == Side::P1 { "13812345678" } else { "13987654321" }.into(),
        address: "北京市朝阳区建国路88号".into(),
        ..Default::default()
    };
    let seed = SeedCustomer {
        customer_no: format!("MX{}", side.tag()),
        input,
        outlet_code: outlet.into(),
        manager: Some(manager),
        specialist: specialist.clone(),
        vip_member: specialist.is_some(),
        risk_level: None,
        accounts: vec![SeedAccount {
            number: if side == Side::P1 { "6222021234567890128" } else { "6222020000000000002" }.into(),
            product_type: "demand",
            product_code: "D1".into(),
            product_name: "活期".into(),
            balance,
            opened_on: "2020-01-01".into(),
            matures_on: None,
        }],
        transactions: vec![],
        tags: vec![],
        marketing_consent: None,
    };
    app.app.seed_customers(std::slice::from_ref(&seed)).await.expect("seed a customer");
    let mut tx = app.app.db.begin_read().await.unwrap();
    let no = seed.customer_no.clone();
    let id: i64 = pcis_store::on_tx!(&mut tx, c => sqlx::query_scalar("SELECT id FROM customer WHERE customer_no = $1").bind(&no).fetch_one(c).await).unwrap();
    TargetCustomer { id, name: name.into(), id_number: id_number.into() }
}

async fn every_cell_of_the_matrix(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let grants = load_grants(&app).await;
    // Deny by default makes a forgotten row look like a working refusal; demand one per action.
    for action in Action::ALL {
        assert!(
            grants.iter().any(|g| g.action == *action),
            "action {action} has no row in the permission matrix (role_permission)"
        );
    }
    let mut targets = HashMap::new();
    for side in Side::ALL {
        targets.insert(side, side_targets(&app, side).await);
    }

    let mut cells = 0;
    let mut mismatches = Vec::new();
    // (actor, audit action) of every refusal, to find in the audit trail afterwards.
    let mut refusals = Vec::new();
    for role in Role::ALL {
        let api = app.api_as(*role).await;
        for action in Action::ALL {
            for side in Side::ALL {
                let Some(req) = request_for(*action, side, *role, &targets[&side]) else { continue };
                let want = if is_customer_record_action(*action) {
                    expected_customer(&grants, *role, *action, side)
                } else {
                    expected(&grants, *role, *action, req.target)
                };
                let got = api.call(req.method.clone(), &req.path, req.body.clone()).await;
                cells += 1;
                if let Some(problem) = judge(want, &got) {
                    mismatches.push(format!(
                        "{role} × {action} × {side:?} ({} {}): {problem}",
                        req.method, req.path
                    ));
                }
                if want.is_err() {
                    refusals.push((username_of(*role), req.audit_action.to_owned()));
                }
                // Put the shared account back, so every cell sees an ordinary active user.
                if *action == Action::UserFreeze && got.status.is_success() {
                    let r = api.post(&req.path, json!({ "op": "reactivate" })).await;
                    assert_eq!(r.status, StatusCode::NO_CONTENT, "reactivate after freeze: {:?}", r.body);
                }
                // A customer has one pending change at a time: the proposer takes it back.
                if *action == Action::CustomerPropose && got.status.is_success() {
                    let pid = got.body["proposal"].as_i64().expect("the proposal's id");
                    let r = api
                        .post(&format!("/api/v1/proposals/{pid}/withdrawal"), json!({ "comment": "" }))
                        .await;
                    assert_eq!(r.status, StatusCode::NO_CONTENT, "withdraw after propose: {:?}", r.body);
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cells} matrix cells disagree with role_permission:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(refusals.len() < cells, "the matrix allows nothing at all");

    // Every refusal left exactly one `denied` audit record naming the actor and the action, and
    // nothing that was allowed was recorded as denied.
    let mut denied = Vec::new();
    let mut prefixes: Vec<String> = pcis_domain::audit_action::AuditAction::all()
        .map(|a| format!("{}.", a.code().split('.').next().unwrap()))
        .collect();
    prefixes.dedup();
    for prefix in &prefixes {
        for rec in app.audit_actions(prefix).await {
            if rec.entry.outcome == Outcome::Denied {
                denied.push((rec.entry.who.username, rec.entry.action));
            }
        }
    }
    refusals.sort();
    denied.sort();
    assert!(!denied.is_empty());
    assert_eq!(denied, refusals, "denied audit records (left) versus refused cells (right)");
}

/// Asserts a 403 with the given reason.
fn assert_denied(r: &Reply, reason: &str, what: &str) {
    assert_eq!(
        (r.status, r.code(), r.body["error"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, "forbidden", Some(reason)),
        "{what}: {:?}",
        r.body
    );
}

/// The values of `field` in the `items` of a list reply.
fn items(r: &Reply, field: &str) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"].as_array().expect("items").iter().map(|i| i[field].clone()).collect()
}

/// The list endpoints apply the scope in the query itself, not only on single lookups.
async fn lists_and_lookups_stay_in_scope(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    // A user under P2, out of every test administrator's reach, who has been active there.
    let (far, otp) = app.provision("far_o3", "FAR1", "O3", Role::AccountManager).await;
    assert_eq!(Api::anonymous(&app).login("far_o3", &otp).await.status, StatusCode::CREATED);

    // Without a grant there is no list at all.
    let am = app.api_as(Role::AccountManager).await;
    for path in ["/api/v1/users", "/api/v1/institutions"] {
        assert_denied(&am.get(path).await, "deny.no_permission", path);
    }

    // A lookup beyond the subtree is refused, not just hidden.
    let biz = app.api_as(Role::BizAdmin).await;
    assert_denied(&biz.get(&format!("/api/v1/users/{far}")).await, "deny.out_of_scope", "user at O3");

    // The user lists of both P1 administrators hold every seeded user (all on P1's branch)
    // and nothing from under P2.
    let mut p1_branch = Vec::new();
    for code in ["P1", "C1", "S1", "O1", "O2"] {
        p1_branch.push(json!(app.institution_id(code).await));
    }
    for role in [Role::BizAdmin, Role::SysAdmin] {
        let api = app.api_as(role).await;
        let r = api.get("/api/v1/users").await;
        let names = items(&r, "username");
        assert!(r.body["total"].as_i64() == Some(names.len() as i64), "one page holds all: {:?}", r.body);
        assert!(!names.contains(&json!("far_o3")), "{role} sees a user under P2: {names:?}");
        for seeded in Role::ALL {
            assert!(names.contains(&json!(username_of(*seeded))), "{role} misses {}", username_of(*seeded));
        }
        for inst in items(&r, "institution_id") {
            assert!(p1_branch.contains(&inst), "{role} sees a user of institution {inst}");
        }
    }

    // The institution tree likewise stops at P1's branch.
    let codes = items(&biz.get("/api/v1/institutions").await, "code");
    assert_eq!(codes.len(), 5, "{codes:?}");
    for code in ["P1", "C1", "S1", "O1", "O2"] {
        assert!(codes.contains(&json!(code)), "{code} missing from {codes:?}");
    }

    // The security auditor at P1 sees what P1's people did, not what happened under P2 —
    // though the far user's login is recorded.
    let auditor = app.api_as(Role::SecurityAuditor).await;
    let mine = items(&auditor.get("/api/v1/audit?username=u_biz_admin").await, "action");
    assert!(!mine.is_empty(), "the auditor should see u_biz_admin's records");
    let far_records = items(&auditor.get("/api/v1/audit?username=far_o3").await, "action");
    assert!(far_records.is_empty(), "the auditor at P1 sees records from O3: {far_records:?}");
    let stored = app.audit_actions("session.").await;
    assert!(stored.iter().any(|r| r.entry.who.username == "far_o3"), "far_o3's login is not recorded");
}

/// The policy is asked before a request is validated or anything it names is looked up: a
/// caller without the permission gets the same audited 403 whether its input is good, bad or
/// names something that does not exist, and so learns nothing about it.
async fn unauthorised_requests_are_refused_before_they_are_validated(b: Backend) {
    let Some(app) = spawn_app(b).await else { return };
    let clerk = app.api_as(Role::DataEntry).await;
    let institution = |parent: &str| json!({ "parent_code": parent, "code": "X1", "name": "测试", "kind": "self_run", "effective_from": "2026-01-01" });
    let user = |inst: &str| json!({ "username": "x_user", "display_name": "某", "staff_no": "X1", "institution_code": inst, "roles": ["nope"] });
    let cases: Vec<(&str, &str, Value)> = vec![
        ("/api/v1/institutions", "institution.create", institution("NO_SUCH_CODE")),
        ("/api/v1/institutions", "institution.create", institution("S1")),
        ("/api/v1/users", "user.create", user("NO_SUCH_CODE")),
        ("/api/v1/users", "user.create", user("O1")),
        ("/api/v1/proposals/999999/decision", "customer.reject", json!({ "approve": false, "comment": "" })),
        ("/api/v1/customers/999999/reveal", "customer.reveal", json!({ "field": "mobile", "reason": "" })),
        (
            "/api/v1/credit-lookups",
            "customer.credit_lookup",
            json!({ "name": "", "id_number": "1", "purpose": "" }),
        ),
    ];
    for (path, action, body) in cases {
        let before = app.audit_actions(action).await.len();
        let r = clerk.post(path, body.clone()).await;
        assert_denied(&r, "deny.no_permission", &format!("{path} {body}"));
        let records = app.audit_actions(action).await;
        assert_eq!(records.len(), before + 1, "{path}: the refusal is audited");
        assert_eq!(records[0].entry.outcome, Outcome::Denied);
    }
}
