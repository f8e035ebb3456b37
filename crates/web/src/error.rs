//! One domain error, rendered per presentation: a JSON body with a stable code for the API,
//! a page in the user's language for the UI. Internal details never reach the user.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use pcis_domain::DomainError;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::i18n::{Lang, translate};
use crate::views;

fn status_of(e: &DomainError) -> StatusCode {
    match e {
        DomainError::Invalid(_) | DomainError::InvalidRows(_) => StatusCode::UNPROCESSABLE_ENTITY,
        DomainError::Denied { .. } | DomainError::PasswordChangeRequired => StatusCode::FORBIDDEN,
        DomainError::Unauthenticated | DomainError::BadCredentials => StatusCode::UNAUTHORIZED,
        DomainError::NotFound => StatusCode::NOT_FOUND,
        DomainError::Conflict(_) => StatusCode::CONFLICT,
        DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The user-facing message key of an error.
pub fn message_key(e: &DomainError) -> &'static str {
    match e {
        DomainError::Denied { reason } => reason,
        DomainError::Conflict(key) => key,
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

/// An error on an HTML page.
pub struct PageError {
    status: StatusCode,
    error: Option<DomainError>,
    lang: Lang,
}

impl PageError {
    pub fn new(error: DomainError, lang: Lang) -> Self {
        Self { status: status_of(&error), error: Some(error), lang }
    }

    pub fn status(status: StatusCode, lang: Lang) -> Self {
        Self { status, error: None, lang }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let key = match (&self.error, self.status) {
            (Some(DomainError::Unauthenticated), _) => return Redirect::to("/login").into_response(),
            (Some(DomainError::PasswordChangeRequired), _) => {
                return Redirect::to("/password").into_response();
            }
            (Some(e), _) => message_key(e),
            (None, StatusCode::NOT_FOUND) => "err.not_found",
            (None, StatusCode::METHOD_NOT_ALLOWED) => "err.method",
            (None, StatusCode::PAYLOAD_TOO_LARGE) => "err.too_large",
            (None, StatusCode::BAD_REQUEST) => "err.bad_request",
            (None, _) => "err.internal",
        };
        (self.status, views::error_page(self.lang, self.status, &translate(self.lang, key, &[])))
            .into_response()
    }
}

/// An error of the JSON API: `{"error": {"code", "message", "field"?, "fields"?, "rows"?}}`.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message_key: &'static str,
    error: Option<DomainError>,
    lang: Lang,
}

impl ApiError {
    pub fn new(error: DomainError, lang: Lang) -> Self {
        Self {
            status: status_of(&error),
            code: error.code(),
            message_key: message_key(&error),
            error: Some(error),
            lang,
        }
    }

    pub fn plain(status: StatusCode, code: &'static str, message_key: &'static str, lang: Lang) -> Self {
        Self { status, code, message_key, error: None, lang }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let mut body = json!({ "code": self.code, "message": translate(lang, self.message_key, &[]) });
        match &self.error {
            Some(DomainError::Invalid(fields)) => {
                body["field"] = json!(fields.first().map(|f| f.field));
                body["fields"] = fields
                    .iter()
                    .map(|f| json!({ "field": f.field, "rule": f.rule, "message": translate(lang, f.rule, &[]) }))
                    .collect();
            }
            Some(DomainError::InvalidRows(rows)) => {
                body["rows"] = rows
                    .iter()
                    .map(|r| json!({ "row": r.row, "field": r.field, "rule": r.rule, "message": translate(lang, r.rule, &[]) }))
                    .collect();
            }
            Some(DomainError::Denied { reason }) => body["reason"] = json!(reason),
            Some(DomainError::Internal(detail)) => tracing::error!(%detail, "internal error"),
            _ => {}
        }
        (self.status, Json(json!({ "error": body }))).into_response()
    }
}

pub async fn not_found(uri: Uri, lang: Lang) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::plain(StatusCode::NOT_FOUND, "not_found", "err.not_found", lang).into_response()
    } else {
        PageError::status(StatusCode::NOT_FOUND, lang).into_response()
    }
}

pub async fn method_not_allowed(uri: Uri, lang: Lang) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::plain(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "err.method", lang)
            .into_response()
    } else {
        PageError::status(StatusCode::METHOD_NOT_ALLOWED, lang).into_response()
    }
}

/// `Json` whose rejections are API errors: malformed JSON is 400, a body of the wrong shape
/// 422, the wrong content type 415, an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(_) => ApiError::plain(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    "err.invalid_input",
                    lang,
                ),
                JsonRejection::MissingJsonContentType(_) => {
                    ApiError::plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "bad_json", "err.bad_json", lang)
                }
                JsonRejection::BytesRejection(_) => {
                    ApiError::plain(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "err.too_large", lang)
                }
                _ => ApiError::plain(StatusCode::BAD_REQUEST, "bad_json", "err.bad_json", lang),
            }),
        }
    }
}

impl ApiError {
    fn bad_request(lang: Lang) -> Self {
        Self::plain(StatusCode::BAD_REQUEST, "bad_request", "err.bad_request", lang)
    }
}

impl PageError {
    fn bad_request(lang: Lang) -> Self {
        Self::status(StatusCode::BAD_REQUEST, lang)
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
                let lang = parts.extensions.get::<Lang>().copied().unwrap_or_default();
                match axum::extract::$inner::<T>::from_request_parts(parts, state).await {
                    Ok(v) => Ok($name(v.0)),
                    Err(_) => Err($error::bad_request(lang)),
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
        let lang = req.extensions().get::<Lang>().copied().unwrap_or_default();
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBody)
            .map_err(|_| ApiError::plain(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "err.too_large", lang))
    }
}
