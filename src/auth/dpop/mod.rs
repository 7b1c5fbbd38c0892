//! DPoP for the resource server (RFC 9449): a DPoP-bound access token is worth
//! nothing without a fresh proof, signed by the key the token names
//! (`cnf.jkt`), for this very request. A stolen token cannot be replayed, and
//! neither can a stolen proof: each `jti` is accepted once.
//!
//! `auth.dpop` is `off` (the default: the `DPoP` scheme is not read), `accepted`
//! (Bearer and DPoP tokens both work; a DPoP-bound token must come with its
//! proof) or `required` (only DPoP-bound tokens with a proof).

mod config;
mod proof;

use std::time::Duration;

use jsonwebtoken::Algorithm;
use moka::sync::Cache;

pub use config::{DpopConfig, DpopMode};
pub use proof::ProofRejection;

/// Most proofs remembered at once for replay detection. A proof is remembered
/// for its whole window, so this bounds proofs per window, not per second.
const REPLAY_CAPACITY: u64 = 1_000_000;

pub struct DpopVerifier {
    mode: DpopMode,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    /// The `htu` every proof must name: the canonical resource URL.
    resource: url::Url,
    /// SHA-256 of (thumbprint, `jti`) of the proofs seen within their window.
    seen: Cache<[u8; 32], ()>,
}

impl DpopVerifier {
    /// `None` when DPoP is off. The config has been validated.
    pub fn new(config: &DpopConfig, resource: url::Url) -> Option<Self> {
        (config.mode != DpopMode::Off).then(|| Self {
            mode: config.mode,
            algorithms: config.algorithms(),
            max_age: config.proof_max_age,
            resource,
            seen: Cache::builder()
                .max_capacity(REPLAY_CAPACITY)
                // Past its window a proof is stale anyway.
                .time_to_live(config.proof_max_age + Duration::from_secs(10))
                .build(),
        })
    }

    pub fn required(&self) -> bool {
        self.mode == DpopMode::Required
    }

    /// The `algs` of the challenge and `dpop_signing_alg_values_supported`.
    pub fn algorithm_names(&self) -> Vec<&'static str> {
        self.algorithms.iter().map(|a| alg_name(*a)).collect()
    }

    /// Checks `proof` for a `method` request to `/mcp` carrying `access_token`;
    /// returns the key's thumbprint, which the token's `cnf.jkt` must equal.
    pub fn check(
        &self,
        proof: &str,
        method: &str,
        access_token: &str,
        now: u64,
    ) -> Result<String, ProofRejection> {
        let checked = proof::check(
            proof,
            &proof::Request {
                method,
                url: &self.resource,
                access_token,
                now,
            },
            &self.algorithms,
            self.max_age,
        )?;
        let mut seen = Vec::with_capacity(checked.jkt.len() + 1 + checked.jti.len());
        seen.extend_from_slice(checked.jkt.as_bytes());
        seen.push(0);
        seen.extend_from_slice(checked.jti.as_bytes());
        let first = self
            .seen
            .entry(super::keys::sha256(&seen))
            .or_insert(())
            .is_fresh();
        if !first {
            return Err(ProofRejection::Replayed);
        }
        Ok(checked.jkt)
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        _ => "unknown",
    }
}
