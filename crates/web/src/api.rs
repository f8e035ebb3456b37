//! The JSON API under `/api/v1`, the same operations as the UI through the same services.
//! Errors are `{"error": {"code", "message", "field"…}}` with a stable code.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use pcis_domain::customer::{CustomerId, CustomerInput};
use pcis_domain::institution::{InstitutionId, InstitutionInput};
use pcis_domain::user::{UserId, UserInput};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::{ApiBody, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::inputs::{
    AccountInput, AuditQuery, ChangeInput, CreditLookupInput, DecisionInput, PageQuery, ProposalsQuery,
    ResolutionInput, RevealInput, RolesInput, StatusInput, SuspectReportQuery, SuspectsQuery, UsersQuery,
};
use crate::security::{Meta, Req};
use pcis_domain::customer::ThresholdsInput;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/session", post(login).delete(logout))
        .route("/me", get(me))
        .route("/me/password", post(change_password))
        .route("/institutions", get(institutions).post(create_institution))
        .route("/institutions/import", post(import_institutions))
        .route("/institutions/{id}", get(institution).put(update_institution))
        .route("/institutions/{id}/status", post(institution_status))
        .route("/users", get(users).post(create_user))
        .route("/users/{id}", get(user))
        .route("/users/{id}/roles", put(user_roles))
        .route("/users/{id}/account", post(user_account))
        .route("/users/{id}/reset-password", post(reset_password))
        .route("/audit", get(audit))
        .route("/roles", get(roles))
        .route("/customers", get(customers).post(propose_new_customer))
        .route("/customers/{id}", get(customer))
        .route("/customers/{id}/transactions", get(customer_transactions))
        .route("/customers/{id}/reveal", post(reveal))
        .route("/customers/{id}/proposals", post(propose_change))
        .route("/proposals", get(proposals))
        .route("/proposals/{id}/decision", post(decide_proposal))
        .route("/credit-lookups", post(credit_lookup))
        .route("/monitoring-flags", get(monitoring_flags))
        .route("/import-runs", get(import_runs))
        .route("/job-runs", get(job_runs))
        .route("/parameters", get(parameters).put(set_parameters))
        .route("/suspects", get(suspects))
        .route("/suspects/report", get(suspect_report))
        .route("/suspects/{id}", get(suspect))
        .route("/suspects/{id}/resolution", post(resolve_suspect))
}

type ApiResult = Result<Response, ApiError>;

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../static/openapi.json"))
}

pub async fn readyz(State(st): State<AppState>) -> Response {
    match st.app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "database not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(State(st): State<AppState>, Meta(meta): Meta, ApiJson(b): ApiJson<LoginBody>) -> ApiResult {
    let s = st.app.login(&b.username, &b.password, &meta).await?;
    let body = json!({ "token": s.token, "csrf_token": s.csrf_token, "must_change_password": s.must_change_password });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn logout(Req { st, meta, auth, .. }: Req) -> ApiResult {
    st.app.logout(&auth.session, &meta).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn me(Req { auth, .. }: Req) -> Json<serde_json::Value> {
    let a = &auth.session.actor;
    Json(json!({
        "id": a.user_id, "username": a.username, "display_name": a.display_name, "staff_no": a.staff_no,
        "institution_id": a.institution_id, "institution_name": a.institution_name,
        "institution_trail": a.institution_trail, "roles": a.roles,
        "must_change_password": auth.session.must_change_password,
    }))
}

#[derive(Deserialize)]
struct PasswordBody {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

async fn change_password(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<PasswordBody>) -> ApiResult {
    st.app
        .change_password(&auth.session, &meta, &b.current_password, &b.new_password, &b.confirm_password)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn institutions(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let list = st.app.institution_tree(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": list })).into_response())
}

async fn institution(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let inst = st.app.institution(&auth.session.actor, &meta, InstitutionId(id)).await?;
    Ok(Json(inst).into_response())
}

#[derive(Deserialize)]
struct NewInstitutionBody {
    #[serde(default)]
    parent_code: String,
    #[serde(flatten)]
    input: InstitutionInput,
}

async fn create_institution(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<NewInstitutionBody>,
) -> ApiResult {
    let inst = st.app.create_institution(&auth.session.actor, &meta, &b.parent_code, &b.input).await?;
    Ok((StatusCode::CREATED, Json(inst)).into_response())
}

async fn update_institution(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<InstitutionInput>,
) -> ApiResult {
    let inst = st.app.update_institution(&auth.session.actor, &meta, InstitutionId(id), &b).await?;
    Ok(Json(inst).into_response())
}

async fn institution_status(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<StatusInput>,
) -> ApiResult {
    let status = b.status()?;
    st.app.set_institution_status(&auth.session.actor, &meta, InstitutionId(id), status, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The CSV file as the request body (`text/csv`), UTF-8 or GB18030.
async fn import_institutions(Req { st, meta, auth, .. }: Req, ApiBody(body): ApiBody) -> ApiResult {
    let summary = st.app.import_institutions(&auth.session.actor, &meta, &body).await?;
    Ok(Json(summary).into_response())
}

async fn users(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<UsersQuery>) -> ApiResult {
    let filter = q.filter(st.app.clock.now());
    let page = st.app.list_users(&auth.session.actor, &meta, &filter, q.page()).await?;
    Ok(Json(page).into_response())
}

async fn user(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let u = st.app.user(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(u).into_response())
}

async fn create_user(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<UserInput>) -> ApiResult {
    let (id, otp) = st.app.create_user(&auth.session.actor, &meta, &b).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "one_time_password": otp }))).into_response())
}

async fn user_roles(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RolesInput>,
) -> ApiResult {
    st.app.set_user_roles(&auth.session.actor, &meta, UserId(id), &b.roles).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn user_account(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<AccountInput>,
) -> ApiResult {
    let op = b.op()?;
    st.app.account_op(&auth.session.actor, &meta, UserId(id), op, &b.reason).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn reset_password(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let otp = st.app.reset_password(&auth.session.actor, &meta, UserId(id)).await?;
    Ok(Json(json!({ "one_time_password": otp })).into_response())
}

async fn audit(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<AuditQuery>) -> ApiResult {
    let filter = q.filter()?;
    let page = st.app.search_audit(&auth.session.actor, &meta, &filter, q.page()).await?;
    Ok(Json(page).into_response())
}

/// The role catalogue with each role's grants.
async fn roles(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let roles = st.app.role_matrix(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": roles })).into_response())
}

async fn customers(
    Req { st, meta, auth, .. }: Req,
    ApiQuery(q): ApiQuery<crate::inputs::CustomerSearchQuery>,
) -> ApiResult {
    let search = q.search()?;
    let page = st.app.search_customers(&auth.session.actor, &meta, &search, q.page()).await?;
    Ok(Json(page).into_response())
}

async fn customer(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let c = st.app.customer_360(&auth.session.actor, &meta, CustomerId(id)).await?;
    Ok(Json(c).into_response())
}

async fn customer_transactions(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult {
    let page = st.app.customer_transactions(&auth.session.actor, &meta, CustomerId(id), q.page()).await?;
    Ok(Json(page).into_response())
}

async fn reveal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<RevealInput>,
) -> ApiResult {
    let field = b.field()?;
    let value =
        st.app.reveal(&auth.session.actor, &meta, CustomerId(id), field, b.account_id, &b.reason).await?;
    Ok(Json(json!({ "field": field, "value": value })).into_response())
}

async fn propose_new_customer(
    Req { st, meta, auth, .. }: Req,
    ApiJson(b): ApiJson<CustomerInput>,
) -> ApiResult {
    let id = st.app.propose_new_customer(&auth.session.actor, &meta, &b).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "proposal": id, "status": "pending" }))).into_response())
}

async fn propose_change(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ChangeInput>,
) -> ApiResult {
    let changes = b.changes()?;
    let pid = st.app.propose_customer_change(&auth.session.actor, &meta, CustomerId(id), changes).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "proposal": pid, "status": "pending" }))).into_response())
}

async fn proposals(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<ProposalsQuery>) -> ApiResult {
    let list = st.app.proposals(&auth.session.actor, &meta, q.status()).await?;
    Ok(Json(json!({ "items": list })).into_response())
}

async fn decide_proposal(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionInput>,
) -> ApiResult {
    st.app.decide_proposal(&auth.session.actor, &meta, id, b.approve, &b.comment).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn credit_lookup(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<CreditLookupInput>) -> ApiResult {
    let found = st.app.credit_lookup(&auth.session.actor, &meta, &b.name, &b.id_number, &b.purpose).await?;
    Ok(Json(json!({ "found": found.is_some(), "customer": found })).into_response())
}

async fn monitoring_flags(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let flags = st.app.monitoring_flags(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": flags })).into_response())
}

async fn import_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.import_runs(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": runs })).into_response())
}

async fn job_runs(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let runs = st.app.job_runs(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "items": runs })).into_response())
}

async fn parameters(Req { st, meta, auth, .. }: Req) -> ApiResult {
    let t = st.app.business_parameters(&auth.session.actor, &meta).await?;
    Ok(Json(json!({ "fen": t, "yuan": ThresholdsInput::from_thresholds(&t) })).into_response())
}

async fn set_parameters(Req { st, meta, auth, .. }: Req, ApiJson(b): ApiJson<ThresholdsInput>) -> ApiResult {
    let t = st.app.set_tier_thresholds(&auth.session.actor, &meta, &b).await?;
    Ok(Json(json!({ "fen": t, "yuan": ThresholdsInput::from_thresholds(&t) })).into_response())
}

async fn suspects(Req { st, meta, auth, .. }: Req, ApiQuery(q): ApiQuery<SuspectsQuery>) -> ApiResult {
    let (tab, page) = (q.tab.unwrap_or_default(), q.page.unwrap_or(1));
    let items = st.app.suspects(&auth.session.actor, &meta, tab, page).await?;
    Ok(Json(items).into_response())
}

async fn suspect(Req { st, meta, auth, .. }: Req, ApiPath(id): ApiPath<i64>) -> ApiResult {
    let item = st.app.suspect(&auth.session.actor, &meta, id).await?;
    Ok(Json(item).into_response())
}

async fn resolve_suspect(
    Req { st, meta, auth, .. }: Req,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<ResolutionInput>,
) -> ApiResult {
    let status = st.app.resolve_suspect(&auth.session.actor, &meta, id, &b.outcome, &b.note).await?;
    Ok(Json(json!({ "status": status })).into_response())
}

async fn suspect_report(
    Req { st, meta, auth, .. }: Req,
    ApiQuery(q): ApiQuery<SuspectReportQuery>,
) -> ApiResult {
    let days = q.days.unwrap_or(pcis_service::suspects::REPORT_DAYS);
    let lines = st.app.suspect_report(&auth.session.actor, &meta, days).await?;
    Ok(Json(json!({ "items": lines })).into_response())
}

#[cfg(test)]
mod tests {
    /// Every API route is documented and every documented path exists.
    #[test]
    fn openapi_matches_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../static/openapi.json")).unwrap();
        let documented: std::collections::BTreeSet<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        let routed: std::collections::BTreeSet<String> = include_str!("api.rs")
            .split(".route(\"")
            .skip(1)
            .map(|rest| format!("/api/v1{}", &rest[..rest.find('"').unwrap()]))
            .collect();
        assert_eq!(documented, routed);
    }
}
