//! Why a presented token was refused. The text goes into
//! `error_description`, so it says which check failed and never echoes the token.

use jsonwebtoken::errors::ErrorKind;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    #[error("the token has no key id (kid) and the issuer publishes several keys")]
    MissingKeyId,
    #[error("the token's signing key (kid) is not published by the issuer")]
    UnknownKey,
    #[error("the token signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token's audience does not include this resource")]
    WrongAudience,
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the token's `{0}` claim is malformed")]
    InvalidClaim(&'static str),
    #[error("the token was issued in the future (iat)")]
    IssuedInTheFuture,
    #[error("the token's header names critical extensions (crit), which are not supported")]
    UnsupportedCritical,
    #[error("the token is not an access token (header typ)")]
    WrongType,
    #[error("the identity provider says the token is not active (revoked, expired or unknown)")]
    Inactive,
    #[error("the token is bound to a key (cnf) and cannot be used as a bearer token")]
    SenderConstrained,
    #[error("the token is not DPoP-bound, so it cannot be used with the DPoP scheme")]
    NotDpopBound,
    #[error("the DPoP proof is signed by another key than the one the token is bound to")]
    DpopKeyMismatch,
    #[error("this server accepts only DPoP-bound tokens, each with a DPoP proof")]
    DpopRequired,
}

impl TokenRejection {
    /// A short, fixed code for the refusal (metrics, logs).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::MissingKeyId => "missing_kid",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::IssuedInTheFuture => "issued_in_the_future",
            Self::UnsupportedCritical => "unsupported_crit",
            Self::WrongType => "wrong_type",
            Self::Inactive => "inactive",
            Self::SenderConstrained => "sender_constrained",
            Self::NotDpopBound => "not_dpop_bound",
            Self::DpopKeyMismatch => "dpop_key_mismatch",
            Self::DpopRequired => "dpop_required",
        }
    }

    /// Whether the refusal holds for as long as the key set does. Not "not valid
    /// yet" or "issued in the future", which time undoes, nor "unknown key", whose remedy (a key-set refresh)
    /// only a fresh verification sets off.
    pub fn is_lasting(&self) -> bool {
        !matches!(
            self,
            Self::NotYetValid | Self::UnknownKey | Self::IssuedInTheFuture
        )
    }
}

/// The registered claims we name in messages; anything else is "a claim", so a
/// message can never carry text chosen by whoever built the token.
fn known_claim(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "nbf" => "nbf",
        "iat" => "iat",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        _ => "a claim",
    }
}

impl From<&jsonwebtoken::errors::Error> for TokenRejection {
    fn from(error: &jsonwebtoken::errors::Error) -> Self {
        match error.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => Self::AlgorithmNotAllowed,
            ErrorKind::MissingRequiredClaim(c) => Self::MissingClaim(known_claim(c)),
            ErrorKind::InvalidClaimFormat(c) => Self::InvalidClaim(known_claim(c)),
            _ => Self::Malformed,
        }
    }
}
