//! `[http]` and `[session]`, and how the server is known to clients: the public
//! URLs derived from the base URL, and the Host and Origin allow-lists.

use std::{net::SocketAddr, time::Duration};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::setting::InvalidSetting;

/// The path of the MCP endpoint below the public base URL.
pub const MCP_PATH: &str = "/mcp";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Browser origins allowed to call `/mcp`. A request with any other `Origin`
    /// gets 403. Empty: only the public base URL's own origin.
    pub allowed_origins: Vec<String>,
    /// Accepted `Host` header values (`host` or `host:port`). Empty: the public
    /// base URL's host, plus loopback names when listening on loopback. `"*"`: any.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Longest a client may take to send a request's headers; slower connections
    /// are closed (against clients that hold connections open a byte at a time).
    /// The clock runs from the end of the previous request, so it is also how long
    /// an idle keep-alive connection stays open.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Open connections at most; a connection beyond is closed at once.
    pub max_connections: usize,
    /// Longest a client may take to send a request's whole body (408 beyond).
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Requests to `/mcp` in progress at most; one more gets 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// Longest a request to `/mcp` may take to its response headers (503 beyond).
    /// Above `box.tool_timeout`, so a tool call's own limit answers first.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Proxies (addresses or CIDR networks) whose `Forwarded` / `X-Forwarded-For`
    /// say who the client is. Empty: the TCP peer is the client, and those headers
    /// are ignored. List only your own load balancers: a listed address can make
    /// any request look as if it came from anywhere.
    pub trusted_proxies: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            // Room for a 4 MiB upload as base64 in a JSON-RPC body.
            max_body_bytes: 8 * 1024 * 1024,
            header_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
            body_read_timeout: Duration::from_secs(30),
            max_concurrent_requests: 1024,
            request_timeout: Duration::from_secs(90),
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.max_body_bytes == 0 {
            return Err(InvalidSetting::new(
                "http.max_body_bytes",
                "must be above zero",
            ));
        }
        if self.header_read_timeout.is_zero() || self.header_read_timeout > Duration::from_secs(300)
        {
            return Err(InvalidSetting::new(
                "http.header_read_timeout",
                "must be between 1ms and 5m",
            ));
        }
        if self.body_read_timeout.is_zero() || self.body_read_timeout > Duration::from_secs(600) {
            return Err(InvalidSetting::new(
                "http.body_read_timeout",
                "must be between 1ms and 10m",
            ));
        }
        if self.request_timeout < Duration::from_secs(1) {
            return Err(InvalidSetting::new(
                "http.request_timeout",
                "must be at least 1s",
            ));
        }
        if self.max_concurrent_requests == 0 {
            return Err(InvalidSetting::new(
                "http.max_concurrent_requests",
                "must be at least 1",
            ));
        }
        if self.max_connections == 0 {
            return Err(InvalidSetting::new(
                "http.max_connections",
                "must be at least 1",
            ));
        }
        crate::client_addr::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| InvalidSetting::new("http.trusted_proxies", e))?;
        for origin in &self.allowed_origins {
            parse_origin(origin).map_err(|e| InvalidSetting::new("http.allowed_origins", e))?;
        }
        Ok(())
    }

    /// The host allow-list, resolved against the public URL and the listen
    /// address. `None` means any host is accepted.
    pub fn allowed_hosts(&self, public: &Url, listen: SocketAddr) -> Option<Vec<String>> {
        if self.allowed_hosts.iter().any(|h| h == "*") {
            return None;
        }
        if !self.allowed_hosts.is_empty() {
            return Some(
                self.allowed_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            );
        }
        let mut hosts = Vec::new();
        if let Some(host) = public.host_str() {
            hosts.push(host.to_ascii_lowercase());
        }
        if listen.ip().is_loopback() {
            hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
        }
        Some(hosts)
    }

    /// Allowed origins, as `scheme://host[:port]` strings normalised by [`parse_origin`].
    pub fn allowed_origins(&self, public: &Url) -> Vec<String> {
        let mut origins: Vec<String> = self
            .allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o).ok())
            .collect();
        origins.push(public.origin().ascii_serialization());
        origins
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most sessions tracked at once (each bound to its subject).
    pub max_sessions: u64,
    /// Most sessions one subject may hold at once.
    pub max_sessions_per_subject: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            max_sessions: 100_000,
            max_sessions_per_subject: 64,
        }
    }
}

impl SessionConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.idle_timeout < Duration::from_secs(1) {
            return Err(InvalidSetting::new(
                "session.idle_timeout",
                "must be at least 1s",
            ));
        }
        if self.max_sessions == 0 {
            return Err(InvalidSetting::new(
                "session.max_sessions",
                "must be above zero",
            ));
        }
        if self.max_sessions_per_subject == 0 {
            return Err(InvalidSetting::new(
                "session.max_sessions_per_subject",
                "must be above zero",
            ));
        }
        Ok(())
    }
}

/// Where the server listens and how it is known to clients.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// Base URL without a trailing slash, e.g. `https://mcp.example.com`.
    pub base: String,
    /// The canonical resource URL: the token audience and the PRM `resource`.
    pub resource: String,
    /// Absolute URL of the path-suffixed protected resource metadata.
    pub resource_metadata: String,
}

impl PublicUrls {
    pub fn from_base(base: &Url) -> Self {
        let base = base.as_str().trim_end_matches('/').to_string();
        Self {
            resource: format!("{base}{MCP_PATH}"),
            resource_metadata: format!("{base}/.well-known/oauth-protected-resource{MCP_PATH}"),
            base,
        }
    }
}

/// Normalises an origin (`scheme://host[:port]`) so comparisons are exact.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    if origin == "null" {
        return Ok("null".into());
    }
    let url = Url::parse(origin).map_err(|e| format!("{origin:?}: {e}"))?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{origin:?} is not a bare origin (scheme://host[:port])"
        ));
    }
    match url.origin() {
        o @ url::Origin::Tuple(..) => Ok(o.ascii_serialization()),
        url::Origin::Opaque(_) => Err(format!("{origin:?} has no host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_url_has_no_trailing_slash() {
        let urls = PublicUrls::from_base(&Url::parse("https://mcp.example.com/").unwrap());
        assert_eq!(urls.resource, "https://mcp.example.com/mcp");
        assert_eq!(
            urls.resource_metadata,
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("HTTP://Example.COM:80").unwrap(),
            "http://example.com"
        );
        assert!(parse_origin("http://example.com/x").is_err());
    }
}
