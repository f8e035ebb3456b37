//! PCIS HTTP layer: the server-rendered UI (askama, works without JavaScript) and the JSON
//! API under `/api/v1`. Handlers parse input, call one service, render. They never decide
//! access: the services ask the policy module; the navigation asks it too, only to hide.

rust_i18n::i18n!("locales", fallback = "zh-CN");

mod access_log;
mod api;
mod client_address;
mod error;
mod i18n;
mod inputs;
mod listing;
mod ops;
mod pages;
mod security;
mod shown_once;
mod stepbar;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use pcis_service::App;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

pub use i18n::{Lang, translate};
pub use ops::MetricsToken;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// `Secure` on cookies; off only for the plain-HTTP loopback demo.
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Real-IP` name the client (none: the
    /// connection's own address is the client's).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The bearer token of `/metrics`; without one the endpoint does not exist (404).
    pub metrics_token: Option<MetricsToken>,
}

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: Arc<WebConfig>,
    http_metrics: Arc<ops::HttpMetrics>,
}

/// Largest accepted request body (CSV imports are the biggest legitimate ones).
const BODY_LIMIT: usize = 8 * 1024 * 1024;

pub fn router(app: App, config: WebConfig) -> Router {
    let metrics = config.metrics_token.is_some();
    let state = AppState { app, config: Arc::new(config), http_metrics: Arc::default() };
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .route("/static/app.css", get(views::stylesheet))
        .route("/static/app.js", get(views::script))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::session_and_csrf))
        // The probes and the metrics need no session: a cookie sent with them is not looked up.
        .merge(ops::routes(metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(error::render_errors))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(PropagateRequestIdLayer::new(access_log::REQUEST_ID))
        .layer(axum::middleware::from_fn(access_log::access_log))
        .layer(SetRequestIdLayer::new(access_log::REQUEST_ID, access_log::MakeId))
        .layer(axum::middleware::from_fn(access_log::drop_client_id))
        .layer(axum::middleware::from_fn_with_state(state.clone(), ops::track))
        .with_state(state)
}
