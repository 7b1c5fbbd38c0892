//! The Box token endpoint client of the broker: token endpoint form POSTs, and the
//! two Box API reads the broker makes itself (user lookup by email, `/users/me`).
//!
//! Bounded like every outbound call of the server: no redirects, connect and
//! total timeouts, a body size cap; and retried on transient answers and
//! connection errors as [`crate::retry`] says. Other 4xx answers are final and
//! become errors naming Box's code and description.

use std::time::Duration;

use reqwest::{
    StatusCode,
    header::{ACCEPT, CONTENT_TYPE},
};
use url::Url;

use super::error::{BrokerError, error_chain, parse_box_error};
use crate::retry::{Attempts, GiveUp, RetryPolicy, is_transient, retry_after};

/// Largest token endpoint answer read; real ones are well under 4 KiB.
const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Largest API answer read (a page of users).
const MAX_API_BYTES: usize = 1024 * 1024;
/// Which call this is, for messages and for how its errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    ClientCredentials,
    JwtBearer,
    TokenExchange,
    UserLookup,
    CurrentUser,
}

impl Call {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client-credentials grant",
            Self::JwtBearer => "JWT assertion grant",
            Self::TokenExchange => "downscoping exchange",
            Self::UserLookup => "user lookup by email (GET /users)",
            Self::CurrentUser => "service account lookup (GET /users/me)",
        }
    }

    fn is_token_endpoint(self) -> bool {
        matches!(
            self,
            Self::ClientCredentials | Self::JwtBearer | Self::TokenExchange
        )
    }

    fn max_bytes(self) -> usize {
        if self.is_token_endpoint() {
            MAX_TOKEN_BYTES
        } else {
            MAX_API_BYTES
        }
    }
}

/// A request as data, rebuilt for every attempt (a JWT assertion must carry a
/// fresh `jti` each time).
pub(crate) enum Outbound {
    /// `application/x-www-form-urlencoded` POST.
    Form { url: Url, body: String },
    /// GET with a bearer token.
    Get { url: Url, bearer: String },
}

#[derive(Clone)]
pub(crate) struct TokenEndpointClient {
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Timeout of one attempt (also bounded by what is left of the retry budget).
    timeout: Duration,
}

/// Why the last attempt failed, for the final message.
enum Failure {
    Status(StatusCode, String),
    Connect(String),
}

impl TokenEndpointClient {
    pub fn new(retry: RetryPolicy, timeout: Duration) -> Result<Self, BrokerError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("box-mcp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BrokerError::config("box.timeout", error_chain(&e)))?;
        Ok(Self {
            http,
            retry,
            timeout,
        })
    }

    /// Sends the request built by `build` until it gets a 2xx, a final 4xx,
    /// or runs out of attempts or time. `secrets` are scrubbed from any text
    /// Box sends back. Returns the 2xx body.
    pub async fn send(
        &self,
        call: Call,
        secrets: &[&str],
        build: impl Fn() -> Result<Outbound, BrokerError>,
    ) -> Result<Vec<u8>, BrokerError> {
        let mut attempts = Attempts::new(&self.retry);
        let mut last: Option<Failure> = None;
        let mut gave_up = GiveUp::Attempts;

        while let Some(left) = attempts.start() {
            let request = match build()? {
                Outbound::Form { url, body } => self
                    .http
                    .post(url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body),
                Outbound::Get { url, bearer } => self.http.get(url).bearer_auth(bearer),
            }
            .header(ACCEPT, "application/json")
            .timeout(self.timeout.min(left));

            let retry_after = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    match read_body(response, call.max_bytes()).await {
                        Ok(body) if status.is_success() => return Ok(body),
                        Ok(body) if is_transient(status) => {
                            let (code, _) = parse_box_error(&body, secrets, "");
                            last = Some(Failure::Status(status, code));
                            retry_after
                        }
                        Ok(body) => return Err(refused(call, status, &body, secrets)),
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
            let delay = match attempts.next_wait(retry_after) {
                Ok(delay) => delay,
                Err(why) => {
                    gave_up = why;
                    break;
                }
            };
            tracing::warn!(
                call = call.describe(),
                attempt = attempts.made(),
                delay_ms = delay.as_millis() as u64,
                "Box answered with a retryable failure; retrying"
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
        let mut reason = format!(
            "the {} failed after {made} attempt{} in {:.1}s; last: {last}",
            call.describe(),
            if made == 1 { "" } else { "s" },
            attempts.elapsed().as_secs_f64(),
        );
        if let GiveUp::Budget {
            retry_after: Some(wait),
        } = gave_up
        {
            reason.push_str(&format!(
                " (Box asked to retry after {}s, beyond box.token_retry_max_elapsed)",
                wait.as_secs()
            ));
        }
        Err(BrokerError::Unavailable { reason })
    }
}

/// A 4xx other than 429: final. Token endpoint answers are `OAuth2Error`s,
/// API answers `ClientError`s; both are read.
fn refused(call: Call, status: StatusCode, body: &[u8], secrets: &[&str]) -> BrokerError {
    let fallback = format!("http_{}", status.as_u16());
    let (code, description) = parse_box_error(body, secrets, &fallback);
    if call.is_token_endpoint() {
        BrokerError::TokenEndpoint {
            grant: call.describe(),
            status: status.as_u16(),
            error: code,
            description,
        }
    } else {
        BrokerError::BoxApi {
            call: call.describe(),
            status: status.as_u16(),
            code,
            message: description,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_endpoint_refusals_name_the_grant_and_box_error() {
        let e = refused(
            Call::ClientCredentials,
            StatusCode::BAD_REQUEST,
            br#"{"error":"invalid_client","error_description":"The client credentials are invalid"}"#,
            &[],
        );
        assert_eq!(
            e.to_string(),
            "Box's token endpoint refused the client-credentials grant (HTTP 400 invalid_client: The client credentials are invalid)"
        );
        let e = refused(Call::UserLookup, StatusCode::FORBIDDEN, b"", &[]);
        assert!(matches!(e, BrokerError::BoxApi { status: 403, .. }), "{e}");
        assert!(e.to_string().contains("http_403"), "{e}");
    }
}
