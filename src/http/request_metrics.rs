//! Counts every HTTP request by route, method and status, and times it to its
//! response headers (an SSE stream's lifetime is not a request's latency).

use std::time::Instant;

use axum::{extract::Request, middleware::Next, response::Response};

use super::MCP_PATH;
use crate::metrics;

pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = route_of(request.uri().path());
    let response = next.run(request).await;
    metrics::http_request(
        route,
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The route label: one of the router's routes, never the path a client sent.
fn route_of(path: &str) -> &'static str {
    match path {
        MCP_PATH => "/mcp",
        "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp" => {
            "/.well-known/oauth-protected-resource"
        }
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::route_of;

    #[test]
    fn routes_are_a_fixed_set() {
        assert_eq!(route_of("/mcp"), "/mcp");
        assert_eq!(route_of("/mcp/../etc"), "other");
        assert_eq!(route_of("/anything-a-client-sends"), "other");
    }
}
