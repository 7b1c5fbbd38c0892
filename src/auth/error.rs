//! Why a caller is not authenticated, as `auth` reports it. The HTTP layer turns
//! these into answers (status, challenge, body) in one place,
//! `crate::http::ApiError`. No message here contains a token.

use super::TokenRejection;

/// The Authorization header claims bearer credentials but is malformed
/// (RFC 6750 §3.1 `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Authorization header: {0}")]
pub struct MalformedAuthorization(pub &'static str);

/// Why a presented token did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The token is refused (`invalid_token`).
    #[error("invalid token: {0}")]
    Rejected(#[from] TokenRejection),
    /// The issuer's keys cannot be had right now; the token was not judged.
    #[error("the identity provider is not available: {0}")]
    IdpUnavailable(String),
}
