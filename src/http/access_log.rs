//! The access line: one `info` event per HTTP request, when its response headers
//! are ready, on its own target (`box_mcp::access`). Status and latency here; the
//! request span it is logged in adds the request id, client address, method, path
//! and, once authenticated, the subject. A compact line of box-mcp's own, instead
//! of tower-http's default (a longer message and a latency string), since it is
//! written for every request.

use std::time::Duration;

use tracing::Span;

/// The log target of access lines.
pub const TARGET: &str = "box_mcp::access";

/// `TraceLayer::on_response`.
pub fn on_response<B>(response: &http::Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        target: TARGET,
        status = response.status().as_u16(),
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "request"
    );
}
