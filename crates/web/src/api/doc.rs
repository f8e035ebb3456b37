//! The API document (OpenAPI 3.1), generated from the handlers. Invariant: the router and the
//! document are built by the same `routes!` calls, so no operation is routed undocumented.
//! Each handler's `#[utoipa::path]` names its path, parameters, body, success and the failures
//! only it gives (404, 409, a domain 422); [`finish`] adds what every operation of its kind
//! can answer (a malformed parameter or body, no session, a refusal, a server error) and how
//! it is authenticated, so those cannot be forgotten on a new operation.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};

use crate::error::ErrorBody;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "PCIS — 个人客户信息系统 API",
        version = "1.0.0",
        description = "JSON API of PCIS, the same operations as the UI through the same services. \
            Log in with `POST /api/v1/session` and send the token as `Authorization: Bearer <token>` \
            (a browser session cookie works too, with the session's CSRF token in `X-CSRF-Token` on \
            every unsafe method). Errors are `{\"error\": {\"code\", \"message\", …}}` with a stable \
            `code`; messages follow the `lang` cookie (zh-CN by default, en). Every call is audited; \
            a refusal is 403 with a `reason`. With a one-time or expired password, only changing it \
            and logging out are open (403 `password_change_required`).",
        license(name = "Proprietary"),
    ),
    servers((url = "/")),
    tags(
        (name = "session", description = "Logging in and out, the caller and its password"),
        (name = "institutions", description = "The institution tree (机构)"),
        (name = "users", description = "Users (用户), their roles and accounts"),
        (name = "roles", description = "The role catalogue and permission matrix"),
        (name = "audit", description = "The audit log and monitoring flags, for the security auditor"),
        (name = "customers", description = "Customers (客户): search, 360, reveal, change proposals"),
        (name = "proposals", description = "Change proposals (变更申请) and their decisions"),
        (name = "suspects", description = "Suspicious customer information (可疑客户信息)"),
        (name = "parameters", description = "Business parameters (业务参数)"),
        (name = "import", description = "Import and nightly job runs"),
    ),
    // The router collects the schemas of bodies; one named only by a query parameter is
    // listed here (the `every_reference_resolves` test finds one that is missing).
    components(schemas(ErrorBody, pcis_service::suspects::SuspectTab))
)]
struct ApiDoc;

/// The document's fixed part: info, tags, the error body.
pub(super) fn base() -> OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

/// The security schemes a signed-in call uses: the bearer token, or the browser's session
/// cookie together with the CSRF header (unsafe methods only).
const BEARER: &str = "bearer";
const COOKIE: &str = "session_cookie";
const CSRF: &str = "csrf_header";

/// A failure every operation of some kind can answer, shared under `components/responses`.
struct Common {
    name: &'static str,
    status: &'static str,
    description: &'static str,
}

const BAD_REQUEST: Common = Common {
    name: "BadRequest",
    status: "400",
    description: "A malformed path or query parameter, or malformed JSON",
};
const UNAUTHENTICATED: Common =
    Common { name: "Unauthenticated", status: "401", description: "No session, or the session ended" };
const FORBIDDEN: Common = Common {
    name: "Forbidden",
    status: "403",
    description: "Refused by the policy (`forbidden`, with a `reason`; unknown customers look the same as \
        those out of reach), the password must be changed first (`password_change_required`), or a \
        cookie session's CSRF token is missing",
};
const TOO_LARGE: Common = Common { name: "TooLarge", status: "413", description: "The body exceeds 8 MiB" };
const NOT_JSON: Common =
    Common { name: "NotJson", status: "415", description: "The body is not declared `application/json`" };
const INVALID: Common = Common {
    name: "Invalid",
    status: "422",
    description: "A body of the wrong shape, or invalid input (`invalid_input`, with the fields in error)",
};
const INTERNAL: Common = Common {
    name: "Internal",
    status: "500",
    description: "A server failure; the body names the request id under which it was logged",
};

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
        )
        .build()
}

/// Completes the document the router collected: each operation's shared failures and
/// security, and the components they refer to.
pub(super) fn finish(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        let unsafe_ops = [&mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
        for op in unsafe_ops.into_iter().flatten() {
            complete(op, true);
        }
        for op in [&mut item.get, &mut item.head].into_iter().flatten() {
            complete(op, false);
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for c in [BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, TOO_LARGE, NOT_JSON, INVALID, INTERNAL] {
        components.responses.insert(c.name.into(), RefOr::T(error_response(c.description)));
    }
    components.add_security_scheme(
        BEARER,
        utoipa::openapi::security::SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("The `token` of `POST /api/v1/session`"))
                .build(),
        ),
    );
    components.add_security_scheme(
        COOKIE,
        utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            "pcis_session",
            "The browser UI's session cookie",
        ))),
    );
    components.add_security_scheme(
        CSRF,
        utoipa::openapi::security::SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "The session's `csrf_token`: required with the cookie on unsafe methods, not with a bearer token",
        ))),
    );
    doc
}

fn complete(op: &mut Operation, unsafe_method: bool) {
    let mut shared = Vec::new();
    let params = op.parameters.iter().flatten().filter_map(|p| match p {
        RefOr::T(p) => Some(&p.parameter_in),
        RefOr::Ref(_) => None,
    });
    if params.into_iter().any(|p| matches!(p, ParameterIn::Path | ParameterIn::Query)) {
        shared.push(BAD_REQUEST);
    }
    if let Some(RefOr::T(body)) = &op.request_body {
        if body.content.contains_key("application/json") {
            shared.extend([BAD_REQUEST, TOO_LARGE, NOT_JSON, INVALID]);
        } else {
            shared.push(TOO_LARGE);
        }
    }
    // An operation open without a session says so with `security(())`.
    if op.security.is_none() {
        shared.extend([UNAUTHENTICATED, FORBIDDEN]);
        let cookie = if unsafe_method {
            SecurityRequirement::new(COOKIE, Vec::<String>::new()).add(CSRF, Vec::<String>::new())
        } else {
            SecurityRequirement::new(COOKIE, Vec::<String>::new())
        };
        op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new()), cookie]);
    }
    shared.push(INTERNAL);
    // Handlers name a success by its body; OpenAPI wants words for every answer.
    for (status, response) in &mut op.responses.responses {
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = match status.as_str() {
                "201" => "Created",
                "202" => "Accepted",
                "204" => "Done",
                _ => "OK",
            }
            .into();
        }
    }
    // The summary is the handler's first doc paragraph, on one line.
    op.summary = op.summary.take().map(|s| s.replace('\n', " "));
    for c in shared {
        let reference = RefOr::Ref(Ref::new(format!("#/components/responses/{}", c.name)));
        op.responses.responses.entry(c.status.into()).or_insert(reference);
    }
}
