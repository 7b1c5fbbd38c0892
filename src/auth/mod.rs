//! Who is calling: OIDC discovery, the issuer's keys, token verification and the
//! [`Principal`] a verified token describes.

mod bearer;
mod caller_token;
mod claim_rules;
mod client_patterns;
mod config;
mod dpop;
mod error;
mod idp;
mod introspection;
pub(crate) mod keys;
mod principal;
mod rejection;
mod verifier;

pub use bearer::{Scheme, access_token, bearer_token, dpop_proof, token_in_query};
pub use caller_token::CallerToken;
pub(crate) use claim_rules::{check_required_claims, registered_claims, unix_now};
pub use client_patterns::ClientPatterns;
pub use config::{
    AuthConfig, ClaimPaths, ClaimPreset, ClaimsConfig, INSECURE_NO_AUTH_BUILD, StdioConfig,
};
pub use dpop::{DpopConfig, DpopMode, DpopVerifier, ProofRejection};
pub use error::{MalformedAuthorization, VerifyError};
pub use idp::{IdpClient, IdpError};
pub use introspection::{ClientAuth, IntrospectionConfig, IntrospectionContext, Introspector};
pub use keys::{KeyStore, Readiness, RefreshPolicy, ValidationPolicy};
pub use principal::Principal;
pub use rejection::TokenRejection;
pub use verifier::TokenVerifier;
pub(crate) use verifier::check_before_signature;
