//! Access-token verification, with a cache of verified tokens so a repeat costs a
//! hash and a lookup instead of a signature check, and a bounded cache of refused
//! ones so that a flood of one forged token costs the same, not a signature check
//! per request.

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, decode, decode_header};
use moka::{Expiry, sync::Cache};
use serde_json::{Map, Value};

use super::{ClaimPaths, VerifyError};
use super::{
    KeyStore, Principal, TokenRejection,
    keys::{KeyLookupError, VerificationKey},
};

/// SHA-256 of the token: the cache never holds a token, only its digest.
type TokenDigest = [u8; 32];

#[derive(Clone)]
struct Verified {
    principal: Arc<Principal>,
    kid: Arc<str>,
}

/// Entries live until the token's own expiry (leeway included), capped by `max_ttl`.
struct UntilTokenExpiry {
    max_ttl: Duration,
}

impl Expiry<TokenDigest, Verified> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenDigest,
        value: &Verified,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let remaining = value.principal.valid_until.saturating_sub(unix_now());
        Some(Duration::from_secs(remaining).min(self.max_ttl))
    }
}

/// A refusal, kept while the key set it was judged against is in use.
#[derive(Clone)]
struct Refused {
    rejection: TokenRejection,
    key_generation: u64,
}

/// How long a refusal is remembered: short, so that nothing a refusal depends on
/// (the clock for `exp`, the key set, which also clears it) stays stale for long.
const REFUSAL_TTL: Duration = Duration::from_secs(60);

/// Longest token judged at all; real access tokens are a few KiB at most.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

pub struct TokenVerifier {
    keys: Arc<KeyStore>,
    claims: ClaimPaths,
    issuer: String,
    allowed: Vec<Algorithm>,
    leeway: u64,
    cache: Cache<TokenDigest, Verified>,
    refused: Cache<TokenDigest, Refused>,
}

impl TokenVerifier {
    pub fn new(
        keys: Arc<KeyStore>,
        claims: ClaimPaths,
        issuer: String,
        allowed: Vec<Algorithm>,
        leeway: Duration,
        cache_capacity: u64,
        cache_max_ttl: Duration,
    ) -> Self {
        let cache = Cache::builder()
            .max_capacity(cache_capacity)
            .expire_after(UntilTokenExpiry {
                max_ttl: cache_max_ttl,
            })
            .build();
        let refused = Cache::builder()
            .max_capacity(cache_capacity)
            .time_to_live(REFUSAL_TTL.min(cache_max_ttl.max(Duration::from_secs(1))))
            .build();
        Self {
            keys,
            claims,
            issuer,
            allowed,
            leeway: leeway.as_secs(),
            cache,
            refused,
        }
    }

    /// Verifies `token` and returns its principal.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, VerifyError> {
        let digest = digest(token);
        if let Some(hit) = self.cache.get(&digest)
            && unix_now() <= hit.principal.valid_until
            && self.keys.has_kid(&hit.kid)
        {
            return Ok(hit.principal);
        }
        // Read before judging: if the keys change meanwhile, the refusal is kept
        // under the old generation and not believed.
        let key_generation = self.keys.generation();
        if let Some(refused) = self.refused.get(&digest)
            && refused.key_generation == key_generation
        {
            return Err(refused.rejection.into());
        }
        match self.verify_uncached(token).await {
            Ok(verified) => {
                let principal = Arc::clone(&verified.principal);
                self.cache.insert(digest, verified);
                Ok(principal)
            }
            Err(VerifyError::Rejected(rejection)) => {
                if rejection.is_lasting() {
                    self.refused.insert(
                        digest,
                        Refused {
                            rejection: rejection.clone(),
                            key_generation,
                        },
                    );
                }
                Err(rejection.into())
            }
            Err(other) => Err(other),
        }
    }

    /// [`TokenVerifier::verify`] without the cache: what the first sight of a
    /// token costs; neither reads nor fills the cache (benchmarks).
    pub async fn verify_without_cache(&self, token: &str) -> Result<Arc<Principal>, VerifyError> {
        self.verify_uncached(token).await.map(|v| v.principal)
    }

    async fn verify_uncached(&self, token: &str) -> Result<Verified, VerifyError> {
        // Structure first, before any decoding or crypto: three non-empty parts.
        if token.len() > MAX_TOKEN_BYTES || !is_three_parts(token) {
            return Err(TokenRejection::Malformed.into());
        }
        let header = decode_header(token).map_err(|_| header_rejection(token))?;
        if !self.allowed.contains(&header.alg) {
            return Err(TokenRejection::AlgorithmNotAllowed.into());
        }
        // `jku`, `x5u`, `jwk` and `x5c` in the header are never read: keys come only
        // from the configured issuer's JWKS.
        let key = self
            .keys
            .key_for(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                KeyLookupError::NotReady => VerifyError::IdpUnavailable(
                    "the issuer's signing keys are not loaded yet".into(),
                ),
                KeyLookupError::Rejected(r) => r.into(),
            })?;
        let VerificationKey {
            kid,
            key,
            validation,
        } = &*key;
        let data = decode::<Map<String, Value>>(token, key, validation)
            .map_err(|e| TokenRejection::from(&e))?;
        let exp = data
            .claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or(TokenRejection::InvalidClaim("exp"))?;
        let principal =
            Principal::from_claims(&self.issuer, &data.claims, &self.claims, exp + self.leeway)
                .ok_or(TokenRejection::InvalidClaim("sub"))?;
        Ok(Verified {
            principal: Arc::new(principal),
            kid: Arc::clone(kid),
        })
    }

    /// Entries in the verified-token cache (for metrics and tests).
    pub fn cached_entries(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }

    /// Entries in the refused-token cache (for metrics and tests).
    pub fn refused_entries(&self) -> u64 {
        self.refused.run_pending_tasks();
        self.refused.entry_count()
    }
}

/// `header.payload.signature` with a header and a payload. The signature may be
/// empty, so that an `alg: none` token is refused for its algorithm, which says more.
fn is_three_parts(token: &str) -> bool {
    let mut parts = token.split('.');
    let three = (parts.next(), parts.next(), parts.next(), parts.next());
    matches!(three, (Some(h), Some(p), Some(_), None) if !h.is_empty() && !p.is_empty())
}

/// Why a header did not parse: `alg: none` and other unknown algorithms are
/// "algorithm not accepted", anything else is malformed.
fn header_rejection(token: &str) -> TokenRejection {
    use base64::Engine as _;
    let alg = token
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Map<String, Value>>(&bytes).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned));
    match alg {
        Some(alg) if alg.parse::<Algorithm>().is_err() => TokenRejection::AlgorithmNotAllowed,
        _ => TokenRejection::Malformed,
    }
}

fn digest(token: &str) -> TokenDigest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
