//! Why a request is refused, and the one place where refusals become HTTP
//! responses. The errors of other modules (`auth`'s [`VerifyError`] and
//! [`MalformedAuthorization`]) are mapped here.
//!
//! No message built here may contain a token, a secret or an Authorization value:
//! every variant carries only fixed text or values the server itself derived.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    challenge::{Challenge, Scheme},
    jsonrpc_peek::BodyError,
    rate_limit::Limit,
};
use crate::auth::{MalformedAuthorization, ProofRejection, TokenRejection, VerifyError};

/// Why a request to the MCP endpoint is refused before it reaches MCP.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no bearer token")]
    MissingToken,
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(&'static str),
    #[error("access tokens are accepted only in the Authorization header, not in the query string")]
    TokenInQuery,
    #[error("invalid token: {0}")]
    InvalidToken(#[from] TokenRejection),
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(#[from] ProofRejection),
    #[error("the token lacks required scopes")]
    InsufficientScope { required: Vec<String> },
    #[error("the identity provider is not available: {0}")]
    IdpUnavailable(String),
    #[error("origin not allowed")]
    OriginNotAllowed,
    #[error("host not allowed")]
    HostNotAllowed,
    #[error("session not found")]
    SessionNotFound,
    #[error("the request body is larger than this server accepts")]
    BodyTooLarge,
    #[error("{0}")]
    BadJsonRpc(#[from] BodyError),
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    #[error("too many requests ({}); retry in {} s", limit.as_str(), retry_after_secs(*retry_after))]
    RateLimited {
        limit: Limit,
        retry_after: std::time::Duration,
    },
    #[error("the server is at http.max_concurrent_requests; retry shortly")]
    Overloaded,
    #[error("the request took longer than http.request_timeout ({0:?}) and was stopped")]
    RequestTimeout(std::time::Duration),
    #[error("the request body did not arrive within http.body_read_timeout")]
    BodyTimeout,
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("this server holds as many MCP sessions as it may (session.max_sessions); retry later")]
    TooManySessions,
    #[error(
        "the caller already holds {0} MCP sessions (session.max_sessions_per_subject); close one (DELETE) or let one idle out"
    )]
    TooManySessionsForSubject(u32),
}

impl From<MalformedAuthorization> for ApiError {
    fn from(MalformedAuthorization(problem): MalformedAuthorization) -> Self {
        Self::MalformedAuthorization(problem)
    }
}

impl From<VerifyError> for ApiError {
    fn from(error: VerifyError) -> Self {
        match error {
            VerifyError::Rejected(reason) => Self::InvalidToken(reason),
            VerifyError::IdpUnavailable(reason) => Self::IdpUnavailable(reason),
        }
    }
}

/// Put on every response an [`ApiError`] makes, so that the refusal is audited
/// once, with the request's context ([`super::refusals`]).
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

impl ApiError {
    /// A short machine-readable code, also used in logs and the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedAuthorization(_) | Self::TokenInQuery => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::IdpUnavailable(_) => "identity_provider_unavailable",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::HostNotAllowed => "host_not_allowed",
            Self::SessionNotFound => "session_not_found",
            Self::BodyTooLarge => "body_too_large",
            Self::BadJsonRpc(_) => "invalid_json_rpc",
            Self::DuplicateHeader(_) => "invalid_request",
            Self::TooManySessions => "too_many_sessions",
            Self::TooManySessionsForSubject(_) => "too_many_sessions_for_subject",
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::RequestTimeout(_) => "request_timeout",
            Self::BodyTimeout => "body_timeout",
            Self::BodyUnreadable => "invalid_request",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken(_) | Self::InvalidDpopProof(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::MalformedAuthorization(_)
            | Self::TokenInQuery
            | Self::BadJsonRpc(_)
            | Self::DuplicateHeader(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } | Self::OriginNotAllowed | Self::HostNotAllowed => {
                StatusCode::FORBIDDEN
            }
            Self::IdpUnavailable(_) | Self::TooManySessions => StatusCode::SERVICE_UNAVAILABLE,
            Self::SessionNotFound => StatusCode::NOT_FOUND,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } | Self::TooManySessionsForSubject(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Self::Overloaded | Self::RequestTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BodyUnreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// A token was presented and refused (bad, expired, malformed, or in the
    /// query): what the failed-token limit counts. A missing token is the normal
    /// first step of the OAuth flow and is not counted.
    pub fn is_token_failure(&self) -> bool {
        matches!(
            self,
            Self::InvalidToken(_)
                | Self::InvalidDpopProof(_)
                | Self::MalformedAuthorization(_)
                | Self::TokenInQuery
        )
    }

    /// The `WWW-Authenticate` values for this error, if it carries any (RFC 6750
    /// §3; with DPoP on, a `DPoP` challenge too, RFC 9449 §7.1).
    fn www_authenticate(&self, challenge: &Challenge) -> Vec<String> {
        match self {
            // RFC 6750 §3.1: no error code when no credentials were sent.
            Self::MissingToken => challenge.render_all(None, None, Scheme::Bearer),
            Self::MalformedAuthorization(_) | Self::TokenInQuery => challenge.render_all(
                Some(("invalid_request", &self.to_string())),
                None,
                Scheme::Bearer,
            ),
            Self::InvalidToken(reason) => {
                let scheme = match reason {
                    TokenRejection::NotDpopBound
                    | TokenRejection::DpopKeyMismatch
                    | TokenRejection::DpopRequired => Scheme::Dpop,
                    _ => Scheme::Bearer,
                };
                challenge.render_all(Some(("invalid_token", &reason.to_string())), None, scheme)
            }
            Self::InvalidDpopProof(reason) => challenge.render_all(
                Some(("invalid_dpop_proof", &reason.to_string())),
                None,
                Scheme::Dpop,
            ),
            Self::InsufficientScope { required } => challenge.render_all(
                Some((
                    "insufficient_scope",
                    "the token lacks a scope this request needs",
                )),
                Some(required),
                Scheme::Bearer,
            ),
            _ => Vec::new(),
        }
    }

    /// The one mapping from errors to HTTP responses.
    pub fn into_response_with(self, challenge: &Challenge) -> Response {
        if let Self::RateLimited { limit, .. } = &self {
            crate::metrics::rate_limited(limit.as_str());
        }
        let status = self.status();
        let www_authenticate = self.www_authenticate(challenge);
        let body = match &self {
            // Unknown and foreign sessions look the same, as rmcp's own 404 does.
            Self::SessionNotFound => json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": -32001, "message": "Session not found" }
            }),
            // What JSON-RPC 2.0 answers a body it cannot take (§5.1); the id is null
            // because the request's own id was not read.
            Self::BadJsonRpc(error) => json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": error.json_rpc_code(), "message": error.to_string() }
            }),
            Self::RateLimited { limit, retry_after } => json!({
                "error": self.code(),
                "error_description": self.to_string(),
                "limit": limit.as_str(),
                "retry_after": retry_after_secs(*retry_after),
            }),
            _ => json!({ "error": self.code(), "error_description": self.to_string() }),
        };
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(Refused(self.code()));
        for value in www_authenticate
            .iter()
            .filter_map(|v| HeaderValue::from_str(v).ok())
        {
            response
                .headers_mut()
                .append(header::WWW_AUTHENTICATE, value);
        }
        match self {
            Self::IdpUnavailable(_) | Self::TooManySessions => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Self::Overloaded => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::RateLimited { retry_after, .. } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_secs(retry_after).into());
            }
            _ => {}
        }
        response
    }
}

/// `Retry-After` is in whole seconds (RFC 9110 §10.2.3): rounded up, at least one,
/// so a client that waits that long finds a token in the bucket.
fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}
