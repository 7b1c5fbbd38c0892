//! Host and Origin checks against DNS rebinding and cross-site calls. They run
//! before anything else looks at the request.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::header::{HOST, ORIGIN};

use super::AppState;
use super::{ApiError, parse_origin};

/// Resolved allow-lists.
#[derive(Debug, Clone)]
pub struct RequestGuard {
    /// `None`: any host.
    hosts: Option<Vec<String>>,
    origins: Vec<String>,
}

impl RequestGuard {
    pub fn new(hosts: Option<Vec<String>>, origins: Vec<String>) -> Self {
        Self { hosts, origins }
    }

    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    fn host_allowed(&self, host: Option<&str>) -> bool {
        let Some(hosts) = &self.hosts else {
            return true;
        };
        let Some(host) = host else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let name = strip_port(&host);
        hosts
            .iter()
            .any(|allowed| *allowed == host || allowed == name)
    }

    /// An absent Origin passes (non-browser clients); a present one must be listed.
    fn origin_allowed(&self, origin: Option<&str>) -> bool {
        match origin {
            None => true,
            Some(origin) => parse_origin(origin).is_ok_and(|o| self.origins.contains(&o)),
        }
    }
}

/// `host:port` → `host`; `[::1]:80` → `[::1]`.
fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    }
}

/// Headers that carry one value. Two copies are refused (RFC 9112 §3.2 for `Host`),
/// because two readers could each take a different one.
const SINGLE_VALUED: [&str; 6] = [
    "host",
    "origin",
    "content-type",
    "content-length",
    "mcp-session-id",
    "mcp-protocol-version",
];

fn duplicated(headers: &http::HeaderMap) -> Option<&'static str> {
    SINGLE_VALUED
        .into_iter()
        .find(|name| headers.get_all(*name).iter().nth(1).is_some())
}

pub async fn check_host(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(name) = duplicated(request.headers()) {
        tracing::debug!(code = "invalid_request", header = name, "request refused");
        return ApiError::DuplicateHeader(name).into_response_with(&state.challenge);
    }
    let host = request.headers().get(HOST).and_then(|h| h.to_str().ok());
    // HTTP/2 carries the authority in the URI rather than a Host header.
    let host = host.or_else(|| request.uri().authority().map(|a| a.as_str()));
    if !state.guard.host_allowed(host) {
        tracing::debug!(code = "host_not_allowed", "request refused");
        return ApiError::HostNotAllowed.into_response_with(&state.challenge);
    }
    next.run(request).await
}

pub async fn check_origin(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(ORIGIN)
        .map(|o| o.to_str().unwrap_or("\u{0}"));
    if !state.guard.origin_allowed(origin) {
        tracing::debug!(code = "origin_not_allowed", "request refused");
        return ApiError::OriginNotAllowed.into_response_with(&state.challenge);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_with_or_without_port() {
        let g = RequestGuard::new(Some(vec!["mcp.example.com".into(), "[::1]".into()]), vec![]);
        assert!(g.host_allowed(Some("mcp.example.com")));
        assert!(g.host_allowed(Some("MCP.example.com:8443")));
        assert!(g.host_allowed(Some("[::1]:8000")));
        assert!(!g.host_allowed(Some("evil.example.com")));
        assert!(!g.host_allowed(None));
        assert!(RequestGuard::new(None, vec![]).host_allowed(Some("anything")));
    }

    #[test]
    fn single_valued_headers_come_once() {
        let mut headers = http::HeaderMap::new();
        headers.append(HOST, "a.example".parse().unwrap());
        headers.append("accept", "application/json".parse().unwrap());
        headers.append("accept", "text/event-stream".parse().unwrap());
        assert_eq!(duplicated(&headers), None, "Accept may repeat");
        headers.append(HOST, "b.example".parse().unwrap());
        assert_eq!(duplicated(&headers), Some("host"));
        let mut headers = http::HeaderMap::new();
        headers.append("mcp-session-id", "a".parse().unwrap());
        headers.append("Mcp-Session-Id", "b".parse().unwrap());
        assert_eq!(duplicated(&headers), Some("mcp-session-id"));
    }

    #[test]
    fn origins_must_be_listed_when_present() {
        let g = RequestGuard::new(None, vec!["http://localhost:6274".into()]);
        assert!(g.origin_allowed(None));
        assert!(g.origin_allowed(Some("http://localhost:6274")));
        assert!(!g.origin_allowed(Some("http://localhost:6275")));
        assert!(!g.origin_allowed(Some("https://evil.example")));
        assert!(!g.origin_allowed(Some("garbage")));
    }
}
