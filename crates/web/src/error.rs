//! One domain error, rendered per presentation: a JSON body with a stable code for the API,
//! a page in the user's language for the UI. Internal details never reach the user.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use pcis_domain::DomainError;
use pcis_domain::policy::Policy;
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::i18n::{Lang, translate};
use crate::security::Auth;
use crate::views::{self, Ctx};

fn status_of(e: &DomainError) -> StatusCode {
    match e {
        DomainError::Invalid(_) | DomainError::InvalidRows(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DomainError::Denied { .. } | DomainError::PasswordChangeRequired => StatusCode::FORBIDDEN,
        DomainError::Unauthenticated | DomainError::BadCredentials => StatusCode::UNAUTHORIZED,
        DomainError::NotFound => StatusCode::NOT_FOUND,
        DomainError::Conflict(_) | DomainError::AlreadyPending { .. } => StatusCode::CONFLICT,
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The user-facing message key of an error.
pub fn message_key(e: &DomainError) -> &'static str {
    match e {
        DomainError::Denied { reason } => reason,
        DomainError::Conflict(key) | DomainError::Unavailable(key) => key,
        DomainError::AlreadyPending { .. } => "err.already_pending",
        other => match other.code() {
            "invalid_input" | "invalid_rows" => "err.invalid_input",
            "unauthenticated" => "err.unauthenticated",
            "bad_credentials" => "err.bad_credentials",
            "password_change_required" => "err.password_change_required",
            "not_found" => "err.not_found",
            _ => "err.internal",
        },
    }
}

/// How a failure is answered: a page in the frame of the UI, or the API's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Page,
    Api,
}

/// A failure a handler returned, not yet put into words: the handler knows what went wrong,
/// [`render_errors`] knows the reader's language and the request id. It travels in the
/// response's extensions between the two, so every handler can simply use `?`.
#[derive(Clone)]
struct Unrendered {
    form: Form,
    status: StatusCode,
    code: &'static str,
    message_key: &'static str,
    error: Option<Arc<DomainError>>,
}

impl Unrendered {
    fn of(form: Form, error: DomainError) -> Self {
        Self {
            form,
            status: status_of(&error),
            code: error.code(),
            message_key: message_key(&error),
            error: Some(Arc::new(error)),
        }
    }

    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(self);
        res
    }

    /// The message in the reader's language, with what the error names filled in.
    fn message(&self, lang: Lang, key: &str) -> String {
        match self.error.as_deref() {
            Some(DomainError::AlreadyPending { id }) => translate(lang, key, &[("id", &id.to_string())]),
            _ => translate(lang, key, &[]),
        }
    }

    fn render(self, ctx: Ctx, request_id: &str) -> Response {
        match self.form {
            Form::Page => self.render_page(ctx, request_id),
            Form::Api => self.render_json(ctx.lang, request_id),
        }
    }

    fn render_page(self, ctx: Ctx, request_id: &str) -> Response {
        let lang = ctx.lang;
        let key = match (self.error.as_deref(), self.status) {
            (Some(DomainError::Unauthenticated), _) => return Redirect::to("/login").into_response(),
            (Some(DomainError::PasswordChangeRequired), _) => {
                return Redirect::to("/password").into_response();
            }
            (Some(_), _) => self.message_key,
            (None, StatusCode::NOT_FOUND) => "err.not_found",
            (None, StatusCode::METHOD_NOT_ALLOWED) => "err.method",
            (None, StatusCode::PAYLOAD_TOO_LARGE) => "err.too_large",
            (None, StatusCode::BAD_REQUEST) => "err.bad_request",
            (None, _) => "err.internal",
        };
        let mut message = self.message(lang, key);
        if self.status.is_server_error() {
            message = format!("{message} {}", translate(lang, "err.request_id", &[("id", request_id)]));
        }
        (self.status, views::error_page(ctx, self.status, &message)).into_response()
    }

    fn render_json(self, lang: Lang, request_id: &str) -> Response {
        let mut error = ErrorDetail {
            code: self.code,
            message: self.message(lang, self.message_key),
            ..ErrorDetail::default()
        };
        match self.error.as_deref() {
            Some(DomainError::Invalid(fields)) => {
                error.field = fields.first().map(|f| f.field);
                error.fields = Some(
                    fields
                        .iter()
                        .map(|f| FieldProblem {
                            field: f.field,
                            rule: f.rule,
                            message: translate(lang, f.rule, &[]),
                        })
                        .collect(),
                );
            }
            Some(DomainError::InvalidRows(rows)) => {
                error.rows = Some(
                    rows.iter()
                        .map(|r| RowProblem {
                            row: r.row,
                            field: r.field,
                            rule: r.rule,
                            message: translate(lang, r.rule, &[]),
                        })
                        .collect(),
                );
            }
            Some(DomainError::Denied { reason }) => error.reason = Some(reason),
            Some(DomainError::AlreadyPending { id }) => error.pending_id = Some(*id),
            _ => {}
        }
        if self.status.is_server_error() {
            error.request_id = Some(request_id.to_owned());
        }
        (self.status, Json(ErrorBody { error })).into_response()
    }
}

/// The body of every API failure: `{"error": {"code", "message", …}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Default, Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable: `bad_request`, `bad_json`, `unauthenticated`, `bad_credentials`,
    /// `password_change_required`, `forbidden`, `not_found`, `method_not_allowed`, `conflict`,
    /// `already_pending`, `too_large`, `invalid_input`, `invalid_rows`, `internal`.
    code: &'static str,
    /// In the reader's language (the `lang` cookie: zh-CN by default, or en).
    message: String,
    /// `invalid_input`: the first field in error.
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'static str>,
    /// `invalid_input`: every field in error.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<FieldProblem>>,
    /// `invalid_rows`: every bad row of an uploaded file; nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Vec<RowProblem>>,
    /// `forbidden`: why the policy refused (an i18n key, e.g. `deny.out_of_scope`).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    /// `already_pending`: the request of this kind already waiting for the object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_id: Option<i64>,
    /// A 5xx: the request id under which the detail was logged (also `X-Request-Id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct FieldProblem {
    field: &'static str,
    /// The rule broken, an i18n key (`err.required`, …).
    rule: &'static str,
    message: String,
}

#[derive(Serialize, ToSchema)]
struct RowProblem {
    /// 1-based line of the file; the header is line 1.
    row: u64,
    field: &'static str,
    rule: &'static str,
    message: String,
}

/// The signed-in caller of a request that failed, handed out by the session middleware so
/// that an error page keeps the frame (navigation, logout).
#[derive(Clone)]
pub(crate) struct FailedFor {
    pub auth: Auth,
    pub policy: Arc<Policy>,
}

/// Whether a response is a failure still to be put into words.
pub(crate) fn is_failure(res: &Response) -> bool {
    res.extensions().get::<Unrendered>().is_some()
}

/// Puts the failures handlers return into words, in the reader's language, with the request
/// id in every 5xx (the detail is in the log under that id, never in the answer). A page
/// failure of a signed-in user keeps the frame of the UI.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let lang = Lang::from_cookies(&CookieJar::from_headers(req.headers()));
    let request_id = crate::access_log::request_id(&req).to_owned();
    let path = req.uri().path().to_owned();
    let mut res = next.run(req).await;
    let Some(failure) = res.extensions_mut().remove::<Unrendered>() else { return res };
    if let Some(DomainError::Internal(detail)) = failure.error.as_deref() {
        tracing::error!(%detail, "internal error");
    }
    let ctx = match res.extensions_mut().remove::<FailedFor>() {
        Some(FailedFor { auth, policy }) if !auth.session.must_change_password => {
            Ctx::for_actor(lang, &auth.session.csrf_token, &path, &auth.session.actor, &policy)
        }
        _ => Ctx::anonymous(lang, String::new(), &path),
    };
    let mut rendered = failure.render(ctx, &request_id);
    // What the handler set besides the failure (a cookie) stays.
    let kept: Vec<_> = res
        .headers()
        .iter()
        .filter(|(name, _)| !rendered.headers().contains_key(*name) && *name != header::CONTENT_LENGTH)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    for (name, value) in kept {
        rendered.headers_mut().append(name, value);
    }
    rendered
}

/// A failure on an HTML page.
pub struct PageError(Unrendered);

impl PageError {
    pub fn status(status: StatusCode) -> Self {
        Self(Unrendered { form: Form::Page, status, code: "", message_key: "", error: None })
    }

    pub(crate) fn bad_request() -> Self {
        Self::status(StatusCode::BAD_REQUEST)
    }
}

impl From<DomainError> for PageError {
    fn from(error: DomainError) -> Self {
        Self(Unrendered::of(Form::Page, error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// A failure of the JSON API: `{"error": {"code", "message", "field"?, "fields"?, "rows"?}}`.
pub struct ApiError(Unrendered);

impl ApiError {
    pub fn plain(status: StatusCode, code: &'static str, message_key: &'static str) -> Self {
        Self(Unrendered { form: Form::Api, status, code, message_key, error: None })
    }

    pub(crate) fn bad_request() -> Self {
        Self::plain(StatusCode::BAD_REQUEST, "bad_request", "err.bad_request")
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        Self(Unrendered::of(Form::Api, error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::plain(StatusCode::NOT_FOUND, "not_found", "err.not_found").into_response()
    } else {
        PageError::status(StatusCode::NOT_FOUND).into_response()
    }
}

pub async fn method_not_allowed(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::plain(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "err.method").into_response()
    } else {
        PageError::status(StatusCode::METHOD_NOT_ALLOWED).into_response()
    }
}

/// `Json` whose rejections are API errors: malformed JSON is 400, a body of the wrong shape
/// 422, the wrong content type 415, an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(_) => {
                    ApiError::plain(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", "err.invalid_input")
                }
                JsonRejection::MissingJsonContentType(_) => {
                    ApiError::plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_json", "err.bad_json")
                }
                JsonRejection::BytesRejection(_) => {
                    ApiError::plain(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "err.too_large")
                }
                _ => ApiError::plain(StatusCode::BAD_REQUEST, "bad_json", "err.bad_json"),
            }),
        }
    }
}

/// A path or query extractor whose rejection (a malformed id, a non-numeric page) is a 400
/// in the presentation's own form rather than axum's plain text.
macro_rules! parts_extractor {
    ($(#[$m:meta])* $name:ident wraps $inner:ident, rejects as $error:ident) => {
        $(#[$m])*
        pub struct $name<T>(pub T);

        impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for $name<T> {
            type Rejection = $error;

            async fn from_request_parts(
                parts: &mut axum::http::request::Parts,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                match axum::extract::$inner::<T>::from_request_parts(parts, state).await {
                    Ok(v) => Ok($name(v.0)),
                    Err(_) => Err($error::bad_request()),
                }
            }
        }
    };
}

parts_extractor!(/// `Path` for the JSON API.
    ApiPath wraps Path, rejects as ApiError);
parts_extractor!(/// `Query` for the JSON API.
    ApiQuery wraps Query, rejects as ApiError);
parts_extractor!(/// `Path` for HTML pages.
    PagePath wraps Path, rejects as PageError);
parts_extractor!(/// `Query` for HTML pages.
    PageQuery wraps Query, rejects as PageError);

/// The raw request body for the API (CSV uploads); too large is a JSON 413.
pub struct ApiBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBody)
            .map_err(|_| ApiError::plain(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "err.too_large"))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::access_log::REQUEST_ID;

    async fn answer(path: &str) -> (StatusCode, String) {
        let boom = || DomainError::Internal("connection reset by 10.0.0.7".into());
        let app = Router::new()
            .route("/api/v1/x", get(move || async move { Err::<(), _>(ApiError::from(boom())) }))
            .route("/x", get(move || async move { Err::<(), _>(PageError::from(boom())) }))
            .layer(axum::middleware::from_fn(render_errors));
        let req = Request::get(path).header(REQUEST_ID, "5eed0000cafe0001").body(Body::empty()).unwrap();
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        let body = axum::body::to_bytes(res.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// A 5xx names its request id, so the user's report leads to the log line; the detail
    /// stays in the log.
    #[tokio::test]
    async fn a_server_error_names_its_request_id_and_nothing_else() {
        let (status, body) = answer("/api/v1/x").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["error"]["request_id"], "5eed0000cafe0001");
        assert_eq!(json["error"]["code"], "internal");
        let (status, page) = answer("/x").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(page.contains("5eed0000cafe0001") && page.contains("<html"), "{page}");
        assert!(!body.contains("10.0.0.7") && !page.contains("10.0.0.7"));
    }
}
