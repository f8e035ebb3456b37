//! One log line per request for operations: method, path, status and duration. The query
//! string is left out on purpose: a search may carry an ID or a mobile number (R-PRV-2), and
//! paths hold only internal ids.

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;

pub async fn access_log(req: Request<Body>, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    tracing::info!(target: "pcis::access", %method, %path, status = res.status().as_u16(), ms, "request");
    res
}
