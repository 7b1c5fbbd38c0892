//! Injected faults: rate limits (429 + `Retry-After`), server errors, latency and
//! token-endpoint failures, for the next N matching calls or until cleared.

use std::time::Duration;

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ids;

/// A fault to inject. Matches calls by method and path prefix; answers with
/// `status` and/or delays by `latency_ms`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// HTTP method to match (any if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path prefix to match, e.g. `/2.0/files/` or `/oauth2/token` (any if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How many matching calls to affect (all until cleared if absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Status to answer with instead of the real answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds (429 defaults to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Delay before answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Affect only every Nth matching call (1 in N, counted per rule): a steady
    /// rate of faults, the same in every run (the soak benchmark's 5 % of 429s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub one_in: Option<u32>,
    /// Error code in the body (`ClientError.code`, or `OAuth2Error.error` on `/oauth2/…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Calls it will still affect (`null`: unlimited).
    pub remaining: Option<u32>,
    /// Calls it has affected.
    pub hits: u64,
    /// Matching calls seen (for `one_in`).
    #[serde(skip)]
    seen: u64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    #[error("a fault needs a status or a latency_ms")]
    Empty,
    #[error("status {0} is not an HTTP status")]
    BadStatus(u16),
    #[error("latency_ms is capped at 60000")]
    TooSlow,
    #[error("one_in must be at least 1")]
    ZeroOneIn,
}

#[derive(Default)]
pub struct Faults {
    rules: Vec<Fault>,
    next_id: u64,
}

/// What to do to one call.
#[derive(Debug, Default)]
pub struct Outcome {
    pub latency: Duration,
    pub respond: Option<(u64, FaultSpec)>,
    pub applied: Option<u64>,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> Result<Fault, FaultError> {
        if spec.status.is_none() && spec.latency_ms.is_none() {
            return Err(FaultError::Empty);
        }
        if let Some(s) = spec.status
            && StatusCode::from_u16(s).is_err()
        {
            return Err(FaultError::BadStatus(s));
        }
        if spec.latency_ms.is_some_and(|l| l > 60_000) {
            return Err(FaultError::TooSlow);
        }
        if spec.one_in == Some(0) {
            return Err(FaultError::ZeroOneIn);
        }
        self.next_id += 1;
        let fault = Fault {
            id: self.next_id,
            remaining: spec.times,
            spec,
            hits: 0,
            seen: 0,
        };
        self.rules.push(fault.clone());
        Ok(fault)
    }

    pub fn list(&self) -> Vec<Fault> {
        self.rules.clone()
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Match a call: every matching latency rule adds its delay; the first matching
    /// status rule answers. Each rule used counts one hit.
    pub fn take(&mut self, method: &str, path: &str) -> Outcome {
        let mut outcome = Outcome::default();
        for rule in &mut self.rules {
            if rule.remaining == Some(0) {
                continue;
            }
            let spec = &rule.spec;
            let matches = spec
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && spec.path.as_deref().is_none_or(|p| path.starts_with(p));
            if !matches {
                continue;
            }
            if let Some(n) = spec.one_in {
                rule.seen += 1;
                if rule.seen % u64::from(n) != 0 {
                    continue;
                }
            }
            let spec = &rule.spec;
            let answers = spec.status.is_some() && outcome.respond.is_none();
            let delays = spec.latency_ms.is_some();
            if !answers && !delays {
                continue;
            }
            if delays {
                outcome.latency += Duration::from_millis(spec.latency_ms.unwrap_or(0));
            }
            if answers {
                outcome.respond = Some((rule.id, spec.clone()));
            }
            outcome.applied.get_or_insert(rule.id);
            rule.hits += 1;
            if let Some(r) = rule.remaining.as_mut() {
                *r -= 1;
            }
        }
        self.rules.retain(|r| r.remaining != Some(0));
        outcome
    }
}

fn default_code(status: u16, oauth: bool) -> &'static str {
    match (status, oauth) {
        (429, false) => "rate_limit_exceeded",
        (400, false) => "bad_request",
        (401, false) => "unauthorized",
        (403, false) => "forbidden",
        (404, false) => "not_found",
        (409, false) => "conflict",
        (502..=504, false) => "unavailable",
        (_, false) => "internal_server_error",
        (400, true) => "invalid_request",
        (401, true) => "invalid_client",
        (_, true) => "temporarily_unavailable",
    }
}

/// The answer of a status fault, in the shape of the endpoint it hits.
pub(crate) fn fault_response(path: &str, spec: &FaultSpec) -> Response {
    let status = spec
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let oauth = path.starts_with("/oauth2/");
    let code = spec
        .code
        .clone()
        .unwrap_or_else(|| default_code(status.as_u16(), oauth).to_string());
    let mut response = if status.as_u16() < 400 {
        status.into_response()
    } else if oauth {
        (
            status,
            Json(json!({"error": code, "error_description": "Injected by box-sandbox"})),
        )
            .into_response()
    } else {
        (
            status,
            Json(json!({
                "type": "error",
                "status": status.as_u16(),
                "code": code,
                "help_url": "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
                "message": "Injected by box-sandbox",
                "request_id": ids::request_id(),
            })),
        )
            .into_response()
    };
    let retry_after = spec
        .retry_after
        .or((status == StatusCode::TOO_MANY_REQUESTS).then_some(1));
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> FaultSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn faults_count_down_and_match_by_prefix() {
        let mut f = Faults::default();
        f.add(spec(
            json!({"path": "/2.0/files", "status": 429, "times": 2}),
        ))
        .unwrap();
        assert!(f.take("GET", "/2.0/folders/0").respond.is_none());
        assert!(f.take("GET", "/2.0/files/1").respond.is_some());
        assert!(f.take("PUT", "/2.0/files/1").respond.is_some());
        assert!(f.take("GET", "/2.0/files/1").respond.is_none());
        assert!(f.list().is_empty());
    }

    #[test]
    fn one_in_n_affects_every_nth_matching_call_and_lets_the_rest_through() {
        let mut f = Faults::default();
        f.add(spec(json!({"path": "/2.0/", "status": 429, "one_in": 20})))
            .unwrap();
        f.add(spec(json!({"path": "/2.0/", "status": 503, "one_in": 97})))
            .unwrap();
        let mut statuses = std::collections::BTreeMap::new();
        for _ in 0..1000 {
            let status = f
                .take("GET", "/2.0/folders/0")
                .respond
                .map(|(_, s)| s.status);
            *statuses.entry(status.flatten()).or_insert(0) += 1;
        }
        // Each rule counts every matching call; 97 and 20 first meet at call 1940.
        assert_eq!(statuses[&Some(429)], 50, "{statuses:?}");
        assert_eq!(statuses[&Some(503)], 10, "{statuses:?}");
        assert_eq!(statuses[&None], 940, "{statuses:?}");
        assert!(f.add(spec(json!({"status": 429, "one_in": 0}))).is_err());
    }

    #[test]
    fn latency_and_status_combine() {
        let mut f = Faults::default();
        f.add(spec(json!({"latency_ms": 5}))).unwrap();
        f.add(spec(json!({"method": "post", "status": 503})))
            .unwrap();
        let o = f.take("POST", "/oauth2/token");
        assert_eq!(o.latency, Duration::from_millis(5));
        assert_eq!(o.respond.map(|(id, _)| id), Some(2));
        assert!(f.take("GET", "/x").respond.is_none());
    }

    #[test]
    fn bad_faults_are_refused() {
        let mut f = Faults::default();
        assert_eq!(f.add(FaultSpec::default()).unwrap_err(), FaultError::Empty);
        assert_eq!(
            f.add(spec(json!({"status": 1000}))).unwrap_err(),
            FaultError::BadStatus(1000)
        );
        assert!(serde_json::from_value::<FaultSpec>(json!({"stauts": 500})).is_err());
    }
}
