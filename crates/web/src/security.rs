//! Request security: the session behind each request (cookie or bearer token), CSRF checks
//! on every state-changing browser request (R-AUTH-5), and security headers on every response.
//! Invariant: an unsafe request carried by a cookie is refused unless it presents the
//! session's CSRF token (header, query or form field); bearer-token API calls are not
//! ambient credentials and need none.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use pcis_domain::DomainError;
use pcis_domain::audit_action::AuditAction;
use pcis_service::RequestMeta;
use pcis_service::auth::Session;

use crate::error::{self, ApiError, PageError};
use crate::{AppState, BODY_LIMIT, Lang};

pub const SESSION_COOKIE: &str = "pcis_session";
/// Double-submit token for the login form, before any session exists.
pub const PRE_SESSION_COOKIE: &str = "pcis_csrf";

/// The session of the request, if any, and how it was presented.
#[derive(Clone)]
pub struct Auth {
    pub session: Session,
}

#[derive(Clone)]
struct MaybeAuth(Option<Auth>);

pub async fn headers(req: Request<Body>, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::HeaderName::from_static("permissions-policy"), "camera=(), microphone=(), geolocation=()");
    set(h, header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}

fn request_meta(req: &Request<Body>, trusted_proxies: &[std::net::IpAddr]) -> RequestMeta {
    let ip = crate::client_address::of(req, trusted_proxies);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    RequestMeta { ip, user_agent }
}

pub async fn session_and_csrf(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let meta = request_meta(&req, &state.config.trusted_proxies);
    let jar = CookieJar::from_headers(req.headers());
    let lang = Lang::from_cookies(&jar);
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let token = bearer.clone().or_else(|| jar.get(SESSION_COOKIE).map(|c| c.value().to_owned()));
    let is_api = req.uri().path().starts_with("/api/");
    // A failure here is answered in the request's own language: JSON for the API.
    let fail = |e: DomainError| {
        if is_api { ApiError::from(e).into_response() } else { PageError::from(e).into_response() }
    };
    let auth = match token {
        None => None,
        Some(t) => match state.app.authenticate(&t, &meta).await {
            Ok(session) => Some(Auth { session }),
            Err(DomainError::Unauthenticated) => None,
            Err(e) => return fail(e),
        },
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let mut req = req;
    if unsafe_method && bearer.is_none() {
        let expected = match (&auth, is_api) {
            (Some(a), _) => Some(a.session.csrf_token.clone()),
            // An API call without any session is a login or gets 401; JSON bodies cannot be
            // sent cross-site without a CORS preflight, which this server never grants.
            (None, true) => None,
            (None, false) => {
                Some(jar.get(PRE_SESSION_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default())
            }
        };
        if let Some(expected) = expected {
            let (provided, rebuilt) = match presented_token(req, is_api).await {
                Ok(x) => x,
                Err(status) => return PageError::status(status).into_response(),
            };
            req = rebuilt;
            if expected.is_empty() || provided.as_deref() != Some(expected.as_str()) {
                tracing::warn!(path = %req.uri().path(), "CSRF token missing or wrong");
                let actor = auth.as_ref().map(|a| &a.session.actor);
                let e = state
                    .app
                    .refuse_request(actor, &meta, AuditAction::SessionCsrf, req.uri().path(), "err.csrf")
                    .await;
                return fail(e);
            }
        }
    }
    req.extensions_mut().insert(MaybeAuth(auth.clone()));
    req.extensions_mut().insert(meta);
    req.extensions_mut().insert(lang);
    let mut res = next.run(req).await;
    if let Some(auth) = auth
        && error::is_failure(&res)
    {
        res.extensions_mut().insert(error::FailedFor { auth, policy: state.app.policy.clone() });
    }
    res
}

/// The CSRF token of the request: `X-CSRF-Token`, else `?_csrf=`, else the `_csrf` field of
/// an urlencoded form (the body is read and put back).
async fn presented_token(
    req: Request<Body>,
    is_api: bool,
) -> Result<(Option<String>, Request<Body>), StatusCode> {
    if let Some(v) = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        let v = v.to_owned();
        return Ok((Some(v), req));
    }
    if is_api {
        return Ok((None, req));
    }
    if let Some(v) = req.uri().query().and_then(|q| form_field(q.as_bytes(), "_csrf")) {
        return Ok((Some(v), req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT).await.map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    let token = form_field(&bytes, "_csrf");
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

fn form_field(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// What every handler of a signed-in user needs: the services, the reader's language, where
/// the request came from and who is calling. Without a session a page redirects to the login
/// and the API answers 401; with a one-time or expired password only its change (and logging
/// out) is open (R-AUTH-1): pages redirect there, the API answers 403.
pub struct Req {
    pub st: AppState,
    pub lang: Lang,
    pub meta: RequestMeta,
    pub auth: Auth,
}

impl FromRequestParts<AppState> for Req {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        // Nested routers see a stripped path; the original decides.
        let path =
            parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |u| u.0.path());
        let is_api = path.starts_with("/api/");
        let refuse = |e: DomainError| {
            if is_api { ApiError::from(e).into_response() } else { PageError::from(e).into_response() }
        };
        let Some(auth) = parts.extensions.get::<MaybeAuth>().and_then(|m| m.0.clone()) else {
            return Err(refuse(DomainError::Unauthenticated));
        };
        let open_anyway = ["/password", "/logout", "/api/v1/me/password", "/api/v1/session"];
        if auth.session.must_change_password && !open_anyway.contains(&path) {
            return Err(refuse(DomainError::PasswordChangeRequired));
        }
        Ok(Req {
            st: st.clone(),
            lang: parts.extensions.get::<Lang>().copied().unwrap_or_default(),
            meta: parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default(),
            auth,
        })
    }
}

/// The request's origin, for audit records.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Meta(parts.extensions.get::<RequestMeta>().cloned().unwrap_or_default()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_default())
    }
}
