//! The JSON API under `/api/v1`, the same operations as the UI through the same services.
//! Errors are `{"error": {"code", "message", "field"…}}` with a stable code.

mod audit;
mod credit;
mod customers;
mod imports;
mod institutions;
mod parameters;
mod proposals;
mod roles;
mod session;
mod suspects;
mod users;

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
use pcis_service::{AuditSort, UserSort};

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(session::routes())
        .merge(institutions::routes())
        .merge(users::routes())
        .merge(audit::routes())
        .merge(roles::routes())
        .merge(customers::routes())
        .merge(proposals::routes())
        .merge(credit::routes())
        .merge(imports::routes())
        .merge(parameters::routes())
        .merge(suspects::routes())
}

type ApiResult = Result<Response, ApiError>;

pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json"))
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

#[cfg(test)]
mod tests {
    /// Every API route is documented and every documented path exists.
    #[test]
    fn openapi_matches_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../../static/openapi.json")).unwrap();
        let documented: std::collections::BTreeSet<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        let sources = [
            include_str!("audit.rs"),
            include_str!("credit.rs"),
            include_str!("customers.rs"),
            include_str!("imports.rs"),
            include_str!("institutions.rs"),
            include_str!("parameters.rs"),
            include_str!("proposals.rs"),
            include_str!("roles.rs"),
            include_str!("session.rs"),
            include_str!("suspects.rs"),
            include_str!("users.rs"),
        ]
        .concat();
        let routed: std::collections::BTreeSet<String> = sources
            .split(".route(\"")
            .skip(1)
            .map(|rest| format!("/api/v1{}", &rest[..rest.find('"').unwrap()]))
            .collect();
        assert_eq!(documented, routed);
    }
}
