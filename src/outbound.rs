//! One outbound HTTP exchange, bounded and retried as [`crate::retry`] says: each
//! attempt has a timeout cut to what is left of the budget, the answer's body is
//! capped, and transient answers (429, 5xx) and connection errors are retried,
//! honouring `Retry-After`. The broker's Box token endpoint client and the linked
//! accounts' IdP client both send through here; what an answer means is theirs
//! to say.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};

pub use crate::retry::is_transient;
use crate::retry::{Attempts, GiveUp, RetryPolicy, retry_after};

/// The last answer: a 2xx, or a failure that is not retried.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Every attempt failed transiently, or the budget ran out.
#[derive(Debug)]
pub struct Exhausted {
    /// "failed after N attempts in X s; last: …", plus a `Retry-After` that did
    /// not fit the budget.
    pub reason: String,
    /// The `Retry-After` that did not fit, if that is why it stopped.
    pub retry_after: Option<Duration>,
}

/// Whom an exchange goes to, and the label its metrics carry.
#[derive(Debug, Clone, Copy)]
pub enum Upstream {
    /// A Box endpoint, e.g. `POST /oauth2/token client_credentials`.
    Box(&'static str),
    /// An identity provider call, e.g. `token_exchange`.
    Idp(&'static str),
}

/// How one exchange is described and bounded.
pub struct Exchange<'a> {
    /// For logs and messages, e.g. "client-credentials grant".
    pub what: &'a str,
    /// For the metrics of every attempt.
    pub upstream: Upstream,
    pub retry: &'a RetryPolicy,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// Largest body read.
    pub max_bytes: usize,
    /// A short name for a transient failure's body (its error code), for the
    /// final message.
    pub failure_code: &'a (dyn Fn(&[u8]) -> String + Sync),
    /// Which statuses are retried ([`is_transient`] for most calls).
    pub transient: fn(StatusCode) -> bool,
}

enum Failure {
    Status(StatusCode, String),
    Connect(String),
}

fn record(upstream: Upstream, sent: &Result<reqwest::Response, reqwest::Error>, elapsed: Duration) {
    use crate::metrics::{self, Answered};
    let answered = match sent {
        Ok(response) => Answered::Status(response.status().as_u16()),
        Err(e) if e.is_timeout() => Answered::Timeout,
        Err(_) => Answered::NoAnswer,
    };
    match upstream {
        Upstream::Box(endpoint) => metrics::box_request(endpoint.into(), answered, elapsed),
        Upstream::Idp(call) => metrics::idp_request(call, answered, elapsed),
    }
}

/// Sends the request `build` makes (rebuilt for every attempt) until an answer
/// is final or the attempts or time run out. `build` may refuse with `E`.
pub async fn send<E>(
    exchange: &Exchange<'_>,
    build: impl Fn() -> Result<RequestBuilder, E>,
) -> Result<Result<Answer, Exhausted>, E> {
    let mut attempts = Attempts::new(exchange.retry);
    let mut last: Option<Failure> = None;
    let mut gave_up = GiveUp::Attempts;

    while let Some(left) = attempts.start() {
        let request = build()?.timeout(exchange.timeout.min(left));
        let started = std::time::Instant::now();
        let sent = request.send().await;
        record(exchange.upstream, &sent, started.elapsed());
        let wait_hint = match sent {
            Ok(response) => {
                let status = response.status();
                let hint = retry_after(response.headers());
                match read_body(response, exchange.max_bytes).await {
                    Ok(body) if (exchange.transient)(status) => {
                        last = Some(Failure::Status(status, (exchange.failure_code)(&body)));
                        hint
                    }
                    Ok(body) => return Ok(Ok(Answer { status, body })),
                    Err(reason) => {
                        last = Some(Failure::Connect(reason));
                        None
                    }
                }
            }
            Err(e) => {
                last = Some(Failure::Connect(error_chain(&e)));
                None
            }
        };
        let delay = match attempts.next_wait(wait_hint) {
            Ok(delay) => delay,
            Err(why) => {
                gave_up = why;
                break;
            }
        };
        tracing::warn!(
            call = exchange.what,
            attempt = attempts.made(),
            delay_ms = delay.as_millis() as u64,
            "retryable failure; retrying"
        );
        tokio::time::sleep(delay).await;
    }

    let last = match last {
        Some(Failure::Status(status, code)) if code.is_empty() => format!("HTTP {status}"),
        Some(Failure::Status(status, code)) => format!("HTTP {status} {code}"),
        Some(Failure::Connect(reason)) => reason,
        None => "no attempt fit in the time budget".into(),
    };
    let made = attempts.made();
    let reason = format!(
        "the {} failed after {made} attempt{} in {:.1}s; last: {last}",
        exchange.what,
        if made == 1 { "" } else { "s" },
        attempts.elapsed().as_secs_f64(),
    );
    let retry_after = match gave_up {
        GiveUp::Budget { retry_after } => retry_after,
        GiveUp::Attempts => None,
    };
    Ok(Err(Exhausted {
        reason,
        retry_after,
    }))
}

async fn read_body(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > max {
            return Err(format!("answer larger than {max} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An error and its sources, for messages ("error sending request: connection refused").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A client for outbound calls: no redirects, connect and total timeouts, our
/// user agent.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("box-mcp/", env!("CARGO_PKG_VERSION")))
        .build()
}
