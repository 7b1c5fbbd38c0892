//! The Box token endpoint client of the broker: token endpoint form POSTs, and the
//! two Box API reads the broker makes itself (user lookup by email, `/users/me`).
//!
//! Bounded like every outbound call of the server ([`crate::outbound`]): no
//! redirects, connect and total timeouts, a body size cap; and retried on
//! transient answers and connection errors as [`crate::retry`] says. Other 4xx answers are final and
//! become errors naming Box's code and description.

use std::time::Duration;

use reqwest::{
    StatusCode,
    header::{ACCEPT, CONTENT_TYPE},
};
use url::Url;

use super::error::BrokerError;
use crate::{
    outbound::{self, Answer, Exchange, Exhausted, error_chain},
    remote_error::parse_error_body,
    retry::RetryPolicy,
};

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
    Revoke,
}

impl Call {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ClientCredentials => "client-credentials grant",
            Self::JwtBearer => "JWT assertion grant",
            Self::TokenExchange => "downscoping exchange",
            Self::UserLookup => "user lookup by email (GET /users)",
            Self::CurrentUser => "current user lookup (GET /users/me)",
            Self::Revoke => "token revocation (POST /oauth2/revoke)",
        }
    }

    /// The Box endpoint, as metrics name it.
    fn endpoint(self) -> &'static str {
        match self {
            Self::ClientCredentials => "POST /oauth2/token client_credentials",
            Self::JwtBearer => "POST /oauth2/token jwt_bearer",
            Self::TokenExchange => "POST /oauth2/token token_exchange",
            Self::UserLookup => "GET /2.0/users",
            Self::CurrentUser => "GET /2.0/users/me",
            Self::Revoke => "POST /oauth2/revoke",
        }
    }

    fn is_token_endpoint(self) -> bool {
        matches!(
            self,
            Self::ClientCredentials | Self::JwtBearer | Self::TokenExchange | Self::Revoke
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

impl TokenEndpointClient {
    pub fn new(retry: RetryPolicy, timeout: Duration) -> Result<Self, BrokerError> {
        let http = outbound::client(timeout)
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
        let failure_code = |body: &[u8]| parse_error_body(body, secrets, "").0;
        let exchange = Exchange {
            what: call.describe(),
            upstream: outbound::Upstream::Box(call.endpoint()),
            retry: &self.retry,
            timeout: self.timeout,
            max_bytes: call.max_bytes(),
            failure_code: &failure_code,
            transient: outbound::is_transient,
        };
        let answer = outbound::send(&exchange, || {
            Ok::<_, BrokerError>(
                match build()? {
                    Outbound::Form { url, body } => self
                        .http
                        .post(url)
                        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                        .body(body),
                    Outbound::Get { url, bearer } => self.http.get(url).bearer_auth(bearer),
                }
                .header(ACCEPT, "application/json"),
            )
        })
        .await?;
        match answer {
            Ok(Answer { status, body }) if status.is_success() => Ok(body),
            Ok(Answer { status, body }) => Err(refused(call, status, &body, secrets)),
            Err(Exhausted {
                mut reason,
                retry_after,
            }) => {
                if let Some(wait) = retry_after {
                    reason.push_str(&format!(
                        " (Box asked to retry after {}s, beyond box.token_retry_max_elapsed)",
                        wait.as_secs()
                    ));
                }
                Err(BrokerError::Unavailable { reason })
            }
        }
    }
}

/// A 4xx other than 429: final. Token endpoint answers are `OAuth2Error`s,
/// API answers `ClientError`s; both are read.
fn refused(call: Call, status: StatusCode, body: &[u8], secrets: &[&str]) -> BrokerError {
    let fallback = format!("http_{}", status.as_u16());
    let (code, description) = parse_error_body(body, secrets, &fallback);
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
