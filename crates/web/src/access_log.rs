//! One log line per request for operations: method, path, status and duration, and a request
//! id (`X-Request-Id`, made here) on that line, on every line logged while the request runs
//! and in every 5xx answer, so a user's report leads to its log. The query string is left out
//! on purpose: a search may carry an ID or a mobile number (R-PRV-2), and paths hold only
//! internal ids.

use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// 64 random bits in hex. An id a client sent is dropped first ([`drop_client_id`]): ids in
/// our logs are ours.
#[derive(Clone, Copy, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::thread_rng().next_u64());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

pub async fn drop_client_id(mut req: Request<Body>, next: Next) -> Response {
    req.headers_mut().remove(REQUEST_ID);
    next.run(req).await
}

/// The request's id, as set by the request-id layer.
pub fn request_id<B>(req: &Request<B>) -> &str {
    req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

pub async fn access_log(req: Request<Body>, next: Next) -> Response {
    let span = tracing::info_span!("request", id = %request_id(&req));
    async move {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let started = Instant::now();
        let res = next.run(req).await;
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(target: "pcis::access", %method, %path, status = res.status().as_u16(), ms, "request");
        res
    }
    .instrument(span)
    .await
}
