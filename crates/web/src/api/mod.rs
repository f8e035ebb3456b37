//! The JSON API under `/api/v1`, the same operations as the UI through the same services.
//! Errors are `{"error": {"code", "message", "field"…}}` with a stable code. Each handler
//! declares its operation for the API document beside it (`#[utoipa::path]`, see `doc`).

// utoipa's expansion of `params(Type)` trips this lint on the type's name.
#![allow(unused_qualifications)]

mod audit;
mod credit;
mod customers;
mod doc;
mod imports;
mod institutions;
mod parameters;
mod proposals;
mod roles;
mod session;
mod suspects;
mod users;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pcis_domain::customer::{CustomerId, CustomerInput};
use pcis_domain::institution::{InstitutionId, InstitutionInput};
use pcis_domain::user::{UserId, UserInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiBody, ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::inputs::{
    AccountInput, AuditQuery, ChangeInput, CreditLookupInput, DecisionInput, ListParams, PageQuery,
    ProposalsQuery, ResolutionInput, RevealInput, RolesInput, StatusInput, SuspectReportQuery, SuspectsQuery,
    UsersQuery,
};
use crate::security::{Meta, Req};
use pcis_domain::customer::ThresholdsInput;
use pcis_service::{AuditSort, CustomerSort, SuspectSort, UserSort};

/// The API's routes under `/api/v1`, and `/api/openapi.json` serving the document generated
/// from the same handlers (serialized once, here).
pub fn routes() -> axum::Router<AppState> {
    let (router, document) = router_and_document();
    let json = axum::body::Bytes::from(document.to_json().expect("the API document serializes"));
    router.route(
        "/api/openapi.json",
        axum::routing::get(move || {
            let json = json.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], json) }
        }),
    )
}

/// The routes and the document, from the same `routes!` calls.
fn router_and_document() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
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
        .merge(suspects::routes());
    let (router, document) = OpenApiRouter::with_openapi(doc::base()).nest("/api/v1", v1).split_for_parts();
    (router, doc::finish(document))
}

type ApiResult = Result<Response, ApiError>;

/// A list answered as `{"items": [...]}`.
#[derive(Serialize, ToSchema)]
struct Items<T> {
    items: Vec<T>,
}

fn items<T: Serialize>(items: Vec<T>) -> Response {
    Json(Items { items }).into_response()
}

/// The `id` path parameter of every operation on one object.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct Id {
    /// The object's id.
    id: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(super::router_and_document().1).unwrap()
    }

    /// Every `$ref` points at a component the document holds (a schema named only in a
    /// query parameter is not collected by the router: `doc::ApiDoc` lists it).
    #[test]
    fn every_reference_resolves() {
        fn walk<'a>(v: &'a Value, refs: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        refs.push(r);
                    }
                    m.values().for_each(|v| walk(v, refs));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, refs)),
                _ => {}
            }
        }
        let doc = document();
        let mut refs = Vec::new();
        walk(&doc, &mut refs);
        assert!(refs.len() > 100, "{}", refs.len());
        for r in refs {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("an outside reference: {r}"));
            assert!(doc.pointer(pointer).is_some(), "unresolved: {r}");
        }
    }

    /// Every operation is named, tagged, summarised and says what it answers: a success, and
    /// the error body for every failure, including those the transport and the session add.
    #[test]
    fn every_operation_documents_its_answers() {
        let doc = document();
        let tags: Vec<&str> =
            doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            assert!(path.starts_with("/api/v1/"), "{path}");
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                assert!(ids.insert(op["operationId"].as_str().unwrap().to_owned()), "{at}: operationId");
                assert!(!op["summary"].as_str().unwrap_or("").is_empty(), "{at}: summary");
                let op_tags = op["tags"].as_array().unwrap();
                assert!(op_tags.len() == 1 && tags.contains(&op_tags[0].as_str().unwrap()), "{at}: tag");
                let responses = op["responses"].as_object().unwrap();
                let statuses: Vec<&str> = responses.keys().map(String::as_str).collect();
                assert_eq!(statuses.iter().filter(|s| s.starts_with('2')).count(), 1, "{at}: {statuses:?}");
                for (status, response) in responses {
                    let response = match response["$ref"].as_str() {
                        Some(r) => doc.pointer(&r[1..]).unwrap(),
                        None => response,
                    };
                    assert!(!response["description"].as_str().unwrap_or("").is_empty(), "{at} {status}");
                    if !status.starts_with('2') {
                        let schema = &response["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ErrorBody", "{at} {status}");
                    }
                }
                let open = op["security"] == serde_json::json!([{}]);
                let expected: &[&str] = match (open, op.get("requestBody").is_some()) {
                    (true, _) => &["500"],
                    (false, false) => &["401", "403", "500"],
                    (false, true) => &["401", "403", "413", "500"],
                };
                for s in expected {
                    assert!(statuses.contains(s), "{at}: no {s} in {statuses:?}");
                }
                if op["requestBody"]["content"].get("application/json").is_some() {
                    for s in ["400", "415", "422"] {
                        assert!(statuses.contains(&s), "{at}: no {s} in {statuses:?}");
                    }
                }
                if !open {
                    let schemes = op["security"].to_string();
                    assert!(
                        schemes.contains("bearer") && schemes.contains("session_cookie"),
                        "{at}: {schemes}"
                    );
                    assert_eq!(schemes.contains("csrf_header"), method != "get", "{at}: {schemes}");
                }
            }
        }
        assert!(ids.len() >= 37, "{ids:?}");
        assert!(ids.contains("login"), "{ids:?}");
    }
}
