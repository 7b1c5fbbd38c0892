//! Prometheus metrics (the `metrics` facade, rendered by
//! `metrics-exporter-prometheus` at `/metrics`): every metric's name and labels
//! are here, in one place.
//!
//! Labels are bounded and never caller-written: a route from a fixed list, a
//! status code, a tool from the catalog, a Box endpoint as a template (ids and
//! names become `{}`), a reason code. Never a token, a subject or an argument value.
//!
//! A leaf module: it imports nothing of box-mcp, so every module may record.
//!
//! Until [`install`] runs (the HTTP server with `metrics.enabled`), every
//! recording below is a no-op: stdio, tests and benchmarks pay an atomic load.
//! The server installs it before anything records, so the handles cached for the
//! hottest counters are the recorder's, never the no-op's.

use std::{borrow::Cow, sync::OnceLock, time::Duration};

use ::metrics::{Counter, Histogram, counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from a cached verification to a slow Box upload.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once; later calls return the same handle).
pub fn install() -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    describe();
    Ok(HANDLE.get_or_init(|| handle))
}

/// The recorder's handle, if [`install`] ran.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

fn describe() {
    use ::metrics::{describe_counter, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route, method and status."
    );
    describe_histogram!(HTTP_DURATION, "Time to the response headers, by route.");
    describe_counter!(
        AUTH,
        "Authentication outcomes on /mcp: ok, or the refusal's reason."
    );
    describe_counter!(
        TOOL_CALLS,
        "tools/call by tool and outcome (ok, error, refused)."
    );
    describe_histogram!(TOOL_DURATION, "tools/call latency, by tool.");
    describe_counter!(
        BOX_REQUESTS,
        "Requests to Box (every attempt), by endpoint and status."
    );
    describe_histogram!(BOX_DURATION, "Box request latency, by endpoint.");
    describe_counter!(
        IDP_REQUESTS,
        "Requests to the identity provider, by call and status."
    );
    describe_histogram!(IDP_DURATION, "Identity provider request latency, by call.");
    describe_counter!(CACHE, "Cache lookups, by cache and result (hit or miss).");
    describe_counter!(RATE_LIMITED, "Requests refused by a rate limit, by limit.");
    use ::metrics::describe_gauge;
    describe_gauge!(
        "box_mcp_policy_generation",
        "Successful loads of the tool policy."
    );
    describe_counter!(
        "box_mcp_policy_reload_failures_total",
        "Policy reloads that failed (the last good policy stayed)."
    );
    describe_gauge!(
        "box_mcp_policy_cached_decisions",
        "Decisions cached for the policy in force."
    );
    describe_gauge!(
        "box_mcp_issuer_keys",
        "Signing keys loaded from the issuer's JWKS."
    );
    describe_gauge!(
        "box_mcp_verified_tokens_cached",
        "Verified access tokens in the cache."
    );
    describe_gauge!("box_mcp_sessions", "MCP sessions bound to their subjects.");
}

const HTTP_REQUESTS: &str = "box_mcp_http_requests_total";
const HTTP_DURATION: &str = "box_mcp_http_request_duration_seconds";
const AUTH: &str = "box_mcp_auth_total";
const TOOL_CALLS: &str = "box_mcp_tool_calls_total";
const TOOL_DURATION: &str = "box_mcp_tool_call_duration_seconds";
const BOX_REQUESTS: &str = "box_mcp_box_requests_total";
const BOX_DURATION: &str = "box_mcp_box_request_duration_seconds";
const IDP_REQUESTS: &str = "box_mcp_idp_requests_total";
const IDP_DURATION: &str = "box_mcp_idp_request_duration_seconds";
const CACHE: &str = "box_mcp_cache_requests_total";
const RATE_LIMITED: &str = "box_mcp_rate_limited_total";

/// An HTTP request answered; `route` is one of a fixed list (`/mcp`, …, `other`).
pub fn http_request(route: &'static str, method: &http::Method, status: u16, elapsed: Duration) {
    // The answer to nearly every request: its handles are looked up once.
    if route == "/mcp" && *method == http::Method::POST && status == 200 {
        static HANDLES: OnceLock<(Counter, Histogram)> = OnceLock::new();
        let (count, time) = HANDLES.get_or_init(|| {
            (
                counter!(HTTP_REQUESTS, "route" => "/mcp", "method" => "POST", "status" => "200"),
                histogram!(HTTP_DURATION, "route" => "/mcp"),
            )
        });
        count.increment(1);
        time.record(elapsed);
        return;
    }
    counter!(HTTP_REQUESTS, "route" => route, "method" => method_label(method), "status" => status_label(status))
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route).record(elapsed);
}

/// The outcome of authenticating a request to `/mcp`: `ok` or a reason code.
pub fn auth(outcome: &'static str) {
    if outcome == "ok" {
        // Every authenticated request: the handle is looked up once.
        static OK: OnceLock<Counter> = OnceLock::new();
        OK.get_or_init(|| counter!(AUTH, "outcome" => "ok"))
            .increment(1);
        return;
    }
    counter!(AUTH, "outcome" => outcome).increment(1);
}

/// How a `tools/call` ended.
#[derive(Debug, Clone, Copy)]
pub enum ToolOutcome {
    Ok,
    /// A tool error (`isError`): Box refused, bad arguments, a timeout, …
    Error,
    /// A JSON-RPC error: denied by policy, unknown tool, a link to make first.
    Refused,
}

/// A `tools/call`; `tool` is a catalog name, or `unknown`.
pub fn tool_call(tool: &'static str, outcome: ToolOutcome, elapsed: Duration) {
    let outcome = match outcome {
        ToolOutcome::Ok => "ok",
        ToolOutcome::Error => "error",
        ToolOutcome::Refused => "refused",
    };
    if outcome == "ok" {
        // Looked up once per tool (the names are the catalog's, a few dozen).
        static HANDLES: OnceLock<
            std::sync::RwLock<std::collections::HashMap<&'static str, (Counter, Histogram)>>,
        > = OnceLock::new();
        let handles = HANDLES.get_or_init(Default::default);
        if let Some((count, time)) = handles.read().ok().as_ref().and_then(|h| h.get(tool)) {
            count.increment(1);
            time.record(elapsed);
            return;
        }
        let pair = (
            counter!(TOOL_CALLS, "tool" => tool, "outcome" => "ok"),
            histogram!(TOOL_DURATION, "tool" => tool),
        );
        pair.0.increment(1);
        pair.1.record(elapsed);
        if let Ok(mut map) = handles.write() {
            map.insert(tool, pair);
        }
        return;
    }
    counter!(TOOL_CALLS, "tool" => tool, "outcome" => outcome).increment(1);
    histogram!(TOOL_DURATION, "tool" => tool).record(elapsed);
}

/// What an outbound request got: a status, or no answer.
#[derive(Debug, Clone, Copy)]
pub enum Answered {
    Status(u16),
    Timeout,
    NoAnswer,
}

impl Answered {
    fn label(self) -> Cow<'static, str> {
        match self {
            Self::Status(code) => status_label(code),
            Self::Timeout => "timeout".into(),
            Self::NoAnswer => "error".into(),
        }
    }
}

/// One attempt at a Box endpoint (`endpoint` is a template, see [`box_endpoint`]).
pub fn box_request(endpoint: Cow<'static, str>, answered: Answered, elapsed: Duration) {
    counter!(BOX_REQUESTS, "endpoint" => endpoint.clone(), "status" => answered.label())
        .increment(1);
    histogram!(BOX_DURATION, "endpoint" => endpoint).record(elapsed);
}

/// One request to the identity provider (`discovery`, `jwks`, a token exchange).
pub fn idp_request(call: &'static str, answered: Answered, elapsed: Duration) {
    counter!(IDP_REQUESTS, "call" => call, "status" => answered.label()).increment(1);
    histogram!(IDP_DURATION, "call" => call).record(elapsed);
}

/// The caches whose hits and misses are counted.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    /// Verified access tokens.
    Tokens,
    /// Tool policy decisions (a `tools/list` asks one per tool).
    Decisions,
    /// Downscoped Box tokens.
    BoxCredentials,
    /// Box parent tokens (CCG / JWT / linked).
    BoxParentTokens,
    /// Token introspection answers (active and refused).
    Introspection,
}

impl Cache {
    const ALL: [Cache; 5] = [
        Cache::Tokens,
        Cache::Decisions,
        Cache::BoxCredentials,
        Cache::BoxParentTokens,
        Cache::Introspection,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Tokens => "tokens",
            Self::Decisions => "decisions",
            Self::BoxCredentials => "box_credentials",
            Self::BoxParentTokens => "box_parent_tokens",
            Self::Introspection => "introspection",
        }
    }
}

/// A lookup in one of the caches. On the path of every request (a `tools/list`
/// makes dozens), so each (cache, result) handle is looked up once, then it is
/// one atomic add.
pub fn cache(cache: Cache, hit: bool) {
    static HANDLES: OnceLock<Vec<[Counter; 2]>> = OnceLock::new();
    let handles = HANDLES.get_or_init(|| {
        Cache::ALL
            .iter()
            .map(|c| {
                [
                    counter!(CACHE, "cache" => c.label(), "result" => "miss"),
                    counter!(CACHE, "cache" => c.label(), "result" => "hit"),
                ]
            })
            .collect()
    });
    handles[cache as usize][usize::from(hit)].increment(1);
}

/// A request refused by a rate limit.
pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

/// `METHOD /path/template` of a Box API URL path: the segments Box's API names
/// are kept, anything else (ids, metadata template keys, …) becomes `{}`.
pub fn box_endpoint(method: &http::Method, path: &str) -> Cow<'static, str> {
    const NAMED: &[&str] = &[
        "2.0",
        "api",
        "ai",
        "ask",
        "text_gen",
        "extract",
        "extract_structured",
        "files",
        "folders",
        "items",
        "content",
        "metadata",
        "metadata_templates",
        "search",
        "users",
        "me",
        "shared_links",
        "collaborations",
        "comments",
        "versions",
        "copy",
        "trash",
        "thumbnail.png",
        "upload_sessions",
        "oauth2",
        "token",
        "revoke",
        "enterprise",
        "global",
        "properties",
        "schema",
        "shared_items",
        "web_links",
        "tasks",
    ];
    let mut template = String::with_capacity(path.len().min(96) + 8);
    template.push_str(method_label(method));
    template.push(' ');
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        template.push('/');
        template.push_str(
            NAMED
                .iter()
                .find(|named| **named == segment)
                .copied()
                .unwrap_or("{}"),
        );
    }
    if !template.ends_with(' ') {
        return template.into();
    }
    template.push('/');
    template.into()
}

fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::HEAD => "HEAD",
        http::Method::PATCH => "PATCH",
        _ => "other",
    }
}

fn status_label(code: u16) -> Cow<'static, str> {
    let known = match code {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        302 => "302",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return Cow::Owned(code.to_string()),
    };
    Cow::Borrowed(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_endpoints_keep_only_api_names_never_ids_or_argument_values() {
        let get = http::Method::GET;
        assert_eq!(
            box_endpoint(&get, "/2.0/folders/12345/items"),
            "GET /2.0/folders/{}/items"
        );
        assert_eq!(
            box_endpoint(&get, "/2.0/files/9/metadata/enterprise_1/secretTemplate"),
            "GET /2.0/files/{}/metadata/{}/{}"
        );
        assert_eq!(
            box_endpoint(&http::Method::POST, "/oauth2/token"),
            "POST /oauth2/token"
        );
        assert_eq!(box_endpoint(&get, "/"), "GET /");
    }

    #[test]
    fn statuses_are_a_fixed_set_with_a_fallback() {
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(418), "418");
    }
}
