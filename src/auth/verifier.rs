//! Access-token verification, with a cache of verified tokens so a repeat costs a
//! hash and a lookup instead of a signature check, and a bounded cache of refused
//! ones so that a flood of one forged token costs the same, not a signature check
//! per request.

use crate::metrics;
use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, decode, decode_header};
use moka::{Expiry, sync::Cache};
use serde_json::{Map, Value};

use super::{
    ClaimPaths, VerifyError,
    claim_rules::{check_key_binding, check_required_claims, registered_claims, unix_now},
    introspection::Introspector,
};
use super::{
    KeyStore, Principal, TokenRejection,
    keys::{KeyLookupError, KeyMaterial, VerificationKey},
};

/// SHA-256 of the token: the cache never holds a token, only its digest.
type TokenDigest = [u8; 32];

#[derive(Clone)]
struct Verified {
    principal: Arc<Principal>,
    kid: Arc<str>,
    /// The key material it was verified with: a re-key under the same `kid` must
    /// not keep old verifications alive.
    material: KeyMaterial,
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
    /// Tokens judged by the IdP instead ([`Introspector`]), and whether JWTs are too.
    introspection: Option<(Arc<Introspector>, bool)>,
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
            introspection: None,
            keys,
            claims,
            issuer,
            allowed,
            leeway: leeway.as_secs(),
            cache,
            refused,
        }
    }

    /// Opaque tokens (and, with `introspect_jwts`, every token) are judged by
    /// `introspector`.
    pub fn with_introspection(
        mut self,
        introspector: Arc<Introspector>,
        introspect_jwts: bool,
    ) -> Self {
        self.introspection = Some((introspector, introspect_jwts));
        self
    }

    /// Verifies `token` and returns its principal.
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, VerifyError> {
        if let Some((introspector, introspect_jwts)) = &self.introspection {
            if token.len() > MAX_TOKEN_BYTES {
                return Err(TokenRejection::Malformed.into());
            }
            let is_jwt = is_three_parts(token);
            if *introspect_jwts || !is_jwt {
                // A JWT is still checked for what needs no key: an `alg: none` or
                // non-access token is not worth the IdP's time.
                if is_jwt {
                    check_before_signature(token, &self.allowed)?;
                }
                return introspector.introspect(token).await;
            }
        }
        let digest = digest(token);
        if let Some(hit) = self.cache.get(&digest)
            && unix_now() <= hit.principal.valid_until
            && self.keys.has_key(&hit.kid, &hit.material)
        {
            metrics::cache(metrics::Cache::Tokens, true);
            return Ok(hit.principal);
        }
        metrics::cache(metrics::Cache::Tokens, false);
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
        let header = check_before_signature(token, &self.allowed)?;
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
            material,
        } = &*key;
        let data = decode::<Map<String, Value>>(token, key, validation)
            .map_err(|e| TokenRejection::from(&e))?;
        check_required_claims(&data.claims)?;
        let exp = registered_claims(&data.claims, &self.issuer, unix_now(), self.leeway)?;
        check_key_binding(&data.claims)?;
        let principal = Principal::from_claims(
            &self.issuer,
            &data.claims,
            &self.claims,
            exp.saturating_add(self.leeway),
        )
        .ok_or(TokenRejection::InvalidClaim("sub"))?;
        Ok(Verified {
            principal: Arc::new(principal),
            kid: Arc::clone(kid),
            material: *material,
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

/// Everything checked before a key is looked up or a signature computed: the
/// structure, the header's algorithm, `typ` and `crit`.
pub(crate) fn check_before_signature(
    token: &str,
    allowed: &[Algorithm],
) -> Result<jsonwebtoken::Header, TokenRejection> {
    // Structure first, before any decoding or crypto: three non-empty parts.
    if token.len() > MAX_TOKEN_BYTES || !is_three_parts(token) {
        return Err(TokenRejection::Malformed);
    }
    let header = decode_header(token).map_err(|_| header_rejection(token))?;
    if !allowed.contains(&header.alg) {
        return Err(TokenRejection::AlgorithmNotAllowed);
    }
    // RFC 8725 §3.11 / RFC 9068: an access token says `at+jwt`, or `JWT` as most
    // IdPs still write; a logout, DPoP proof or other JWT says otherwise.
    if !header.typ.as_deref().is_none_or(is_access_token_type) {
        return Err(TokenRejection::WrongType);
    }
    // RFC 7515 §4.1.11: a token whose `crit` names an extension the recipient
    // does not understand MUST be rejected; box-mcp understands none.
    if has_critical_extensions(token) {
        return Err(TokenRejection::UnsupportedCritical);
    }
    Ok(header)
}

/// `typ` values of access tokens (media types compare case-insensitively).
fn is_access_token_type(typ: &str) -> bool {
    ["JWT", "at+jwt", "application/at+jwt"]
        .iter()
        .any(|t| t.eq_ignore_ascii_case(typ))
}

/// Whether the JOSE header has a `crit` parameter (RFC 7515 §4.1.11), whatever it
/// lists. An unreadable header was refused before this is asked.
fn has_critical_extensions(token: &str) -> bool {
    use base64::Engine as _;
    #[derive(serde::Deserialize)]
    struct Crit {
        crit: Option<serde::de::IgnoredAny>,
    }
    let Some(header) = token.split('.').next() else {
        return true;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header) else {
        return true;
    };
    // A `crit` given twice, or a header that is not an object, is refused too.
    serde_json::from_slice::<Crit>(&bytes).map_or(true, |h| h.crit.is_some())
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
    super::keys::sha256(token.as_bytes())
}
