//! Who is calling: OIDC discovery, the issuer's keys, token verification and the
//! [`Principal`] a verified token describes.

mod bearer;
mod caller_token;
mod client_patterns;
mod config;
mod error;
mod idp;
pub(crate) mod keys;
mod principal;
mod rejection;
mod verifier;

pub use bearer::{bearer_token, token_in_query};
pub use caller_token::CallerToken;
pub use client_patterns::ClientPatterns;
pub use config::{
    AuthConfig, ClaimPaths, ClaimPreset, ClaimsConfig, INSECURE_NO_AUTH_BUILD, StdioConfig,
};
pub use error::{MalformedAuthorization, VerifyError};
pub use idp::{IdpClient, IdpError};
pub use keys::{KeyStore, Readiness, RefreshPolicy, ValidationPolicy};
pub use principal::Principal;
pub use rejection::TokenRejection;
pub use verifier::TokenVerifier;
pub(crate) use verifier::{check_before_signature, registered_claims};
