//! The operations endpoints (运维接口): `/healthz` (the process answers, nothing else is
//! touched), `/readyz` (the database answers) and `/metrics` (Prometheus text format), and
//! the HTTP counters behind the last. Invariants: none of them resolves a session or is
//! audited, and they stay out of the API document; `/metrics` is routed only when the
//! configuration sets a token, and a request without that exact bearer token (compared in
//! constant time) gets a bare 401; the HTTP labels are the route template (axum's
//! `MatchedPath`), the method and the status class, never the path a request named (it may
//! hold ids) or its query, and nothing says who asked.

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{AppState, error};

/// The bearer token a scraper must present at `/metrics`. Only its SHA-256 is held, so the
/// comparison takes the same time whatever the presented token's length or content.
#[derive(Clone)]
pub struct MetricsToken([u8; 32]);

impl MetricsToken {
    pub fn new(token: &str) -> MetricsToken {
        MetricsToken(Sha256::digest(token.as_bytes()).into())
    }

    fn admits(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        presented.ct_eq(&self.0).into()
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(..)")
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: &'static str,
}

/// Seconds, from a quick page to a slow export.
const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// The HTTP layer's counters since the router was built.
pub(crate) struct HttpMetrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        let mut m = HttpMetrics {
            registry: Registry::default(),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        m.registry.register(
            "pcis_http_requests",
            "HTTP requests by route template, method and status class",
            m.requests.clone(),
        );
        m.registry.register(
            "pcis_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            m.latency.clone(),
        );
        m
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// Counts every request under its route template; a path no route matched counts as
/// `unmatched`.
pub(crate) async fn track(State(st): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let method = method_label(req.method());
    let started = Instant::now();
    let res = next.run(req).await;
    let m = &st.http_metrics;
    m.latency
        .get_or_create(&RouteLabels { route: route.clone(), method })
        .observe(started.elapsed().as_secs_f64());
    m.requests.get_or_create(&RequestLabels { route, method, status: status_class(res.status()) }).inc();
    res
}

/// The probes, and `/metrics` when a token is configured; outside the session layer.
pub(crate) fn routes(metrics: bool) -> Router<AppState> {
    let router = Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(readyz));
    let router = if metrics { router.route("/metrics", get(serve_metrics)) } else { router };
    router.method_not_allowed_fallback(error::method_not_allowed)
}

/// 200 `ready` when the database answers in time, else 503 with a short reason.
async fn readyz(State(st): State<AppState>) -> Response {
    match st.app.ready().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")).into_response(),
    }
}

async fn serve_metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let admitted = match (&st.config.metrics_token, presented) {
        (Some(expected), Some(token)) => expected.admits(token),
        _ => false,
    };
    if !admitted {
        tracing::warn!("metrics: a request without the metrics token");
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")]).into_response();
    }
    let mut body = String::new();
    let rendered = prometheus_text::encode(&mut body, &st.http_metrics.registry)
        .and_then(|()| st.app.render_metrics(&mut body));
    match rendered {
        Ok(()) => ([(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
