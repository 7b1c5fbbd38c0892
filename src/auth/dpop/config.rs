//! `auth.dpop` and its companions.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use crate::setting::InvalidSetting;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DpopMode {
    /// The `DPoP` scheme is not read; a DPoP-bound token is refused as a bearer token.
    #[default]
    Off,
    /// Bearer tokens, and DPoP-bound tokens with their proof.
    Accepted,
    /// Only DPoP-bound tokens with their proof.
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpopConfig {
    pub mode: DpopMode,
    /// Proof signature algorithms accepted (asymmetric only).
    pub algorithms: Vec<String>,
    /// How old a proof's `iat` may be (and so how long its `jti` is remembered).
    #[serde(with = "humantime_serde")]
    pub proof_max_age: Duration,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            mode: DpopMode::Off,
            algorithms: ["ES256", "ES384", "PS256", "RS256", "EdDSA"]
                .map(String::from)
                .to_vec(),
            proof_max_age: Duration::from_secs(60),
        }
    }
}

impl DpopConfig {
    /// The algorithms, parsed (validation has refused any that do not parse).
    pub fn algorithms(&self) -> Vec<Algorithm> {
        self.algorithms
            .iter()
            .filter_map(|a| a.parse().ok())
            .collect()
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.mode == DpopMode::Off {
            return Ok(());
        }
        if self.algorithms.is_empty() {
            return Err(InvalidSetting::new(
                "auth.dpop.algorithms",
                "must name at least one algorithm",
            ));
        }
        for name in &self.algorithms {
            match name.parse::<Algorithm>() {
                Ok(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) | Err(_) => {
                    return Err(InvalidSetting::new(
                        "auth.dpop.algorithms",
                        format!("{name:?} is not an asymmetric JWS algorithm"),
                    ));
                }
                Ok(_) => {}
            }
        }
        if self.proof_max_age < Duration::from_secs(5)
            || self.proof_max_age > Duration::from_secs(600)
        {
            return Err(InvalidSetting::new(
                "auth.dpop.proof_max_age",
                "must be between 5s and 10m",
            ));
        }
        Ok(())
    }
}
