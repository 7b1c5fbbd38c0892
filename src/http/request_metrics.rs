//! Counts every HTTP request by route, method and status, and times it to its
//! response headers (an SSE stream's lifetime is not a request's latency).

use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};

use crate::telemetry::metrics;

pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route is chosen from a fixed list; the path itself is never a label.
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    metrics::http_request(
        &path,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
