//! The issuer's signing keys: discovered at start (with retries while the IdP is
//! down), refreshed periodically and on an unknown `kid`, and kept when a refresh
//! fails.
//!
//! Each key carries its own [`Validation`], because jsonwebtoken requires every
//! algorithm of a validation to match the key's family: one `(key, validation)` per
//! `kid`, with `iss`, `aud`, `exp` and `sub` forced into the required claims.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use arc_swap::{ArcSwap, ArcSwapOption};
use jsonwebtoken::{
    Algorithm, AlgorithmFamily, DecodingKey, Validation,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse},
};
use tokio::sync::Mutex;
use url::Url;

use super::{IdpClient, IdpError, TokenRejection};

/// A key ready to verify tokens, with the checks that go with it.
pub struct VerificationKey {
    pub kid: Arc<str>,
    pub key: DecodingKey,
    pub validation: Validation,
    /// SHA-256 of the JWK's key parameters and algorithms: tells a re-keyed `kid`
    /// from the same key published again.
    pub material: KeyMaterial,
}

pub type KeyMaterial = [u8; 32];

/// What every key's validation checks besides the signature.
#[derive(Debug, Clone)]
pub struct ValidationPolicy {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    pub leeway: Duration,
}

/// Timing of discovery and refreshes.
#[derive(Debug, Clone)]
pub struct RefreshPolicy {
    pub min_interval: Duration,
    pub default_interval: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

/// The current key set. Swapped whole, so readers never see a half-updated set.
#[derive(Default)]
struct KeySet {
    by_kid: HashMap<Arc<str>, Arc<VerificationKey>>,
    /// Which key set this is: each one installed gets the next number, so a cached
    /// judgement can tell whether the keys changed since.
    generation: u64,
}

/// The generation of the next key set installed.
static NEXT_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// What `/readyz` reports.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Readiness {
    /// Discovery has not succeeded yet; `reason` is the last failure, if any.
    Starting { reason: Option<String> },
    /// Keys are loaded. `last_error` is the last refresh failure, if the newest
    /// refresh failed and older keys are in use.
    Ready {
        keys: usize,
        last_error: Option<String>,
    },
}

pub struct KeyStore {
    idp: IdpClient,
    policy: ValidationPolicy,
    refresh: RefreshPolicy,
    keys: ArcSwapOption<KeySet>,
    jwks_uri: ArcSwapOption<Url>,
    readiness: ArcSwap<Readiness>,
    /// Held during an on-demand fetch, so concurrent unknown `kid`s cause one
    /// fetch; holds the time of the last on-demand fetch, to rate-limit them.
    /// Periodic refreshes do not touch it: an IdP whose JWKS says `no-cache`
    /// must not starve the refresh that a key rotation needs.
    on_demand_gate: Mutex<Option<Instant>>,
}

impl KeyStore {
    pub fn new(idp: IdpClient, policy: ValidationPolicy, refresh: RefreshPolicy) -> Arc<Self> {
        Arc::new(Self {
            idp,
            policy,
            refresh,
            keys: ArcSwapOption::empty(),
            jwks_uri: ArcSwapOption::empty(),
            readiness: ArcSwap::from_pointee(Readiness::Starting { reason: None }),
            on_demand_gate: Mutex::new(None),
        })
    }

    /// Starts discovery and the periodic refresh in the background. The server
    /// serves (with 503 on `/mcp`) until the first key set is loaded.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let store = Arc::clone(self);
        tokio::spawn(async move { store.run().await })
    }

    pub fn readiness(&self) -> Readiness {
        (**self.readiness.load()).clone()
    }

    pub fn is_ready(&self) -> bool {
        self.keys.load().is_some()
    }

    /// True while `kid` is still published; cached verifications of tokens signed
    /// by a key that the issuer has withdrawn stop counting at once.
    /// The generation of the key set in use (0 before any is loaded): it changes
    /// whenever a new key set is installed.
    pub fn generation(&self) -> u64 {
        self.keys.load().as_ref().map_or(0, |set| set.generation)
    }

    /// Whether the key set still holds `kid` with this key material.
    pub fn has_key(&self, kid: &str, material: &KeyMaterial) -> bool {
        self.keys
            .load()
            .as_ref()
            .and_then(|set| set.by_kid.get(kid))
            .is_some_and(|key| key.material == *material)
    }

    /// The key for a token's `kid`, refreshing the key set once (rate-limited) if
    /// the `kid` is unknown. `None` as `kid` is accepted only while the issuer
    /// publishes a single key.
    pub async fn key_for(&self, kid: Option<&str>) -> Result<Arc<VerificationKey>, KeyLookupError> {
        let current = self.keys.load_full().ok_or(KeyLookupError::NotReady)?;
        let Some(kid) = kid else {
            return single_key(&current);
        };
        if let Some(key) = current.by_kid.get(kid) {
            return Ok(Arc::clone(key));
        }
        self.refresh_for_unknown_kid(kid).await
    }

    async fn refresh_for_unknown_kid(
        &self,
        kid: &str,
    ) -> Result<Arc<VerificationKey>, KeyLookupError> {
        let unknown = || KeyLookupError::Rejected(TokenRejection::UnknownKey);
        let mut last_fetch = self.on_demand_gate.lock().await;
        // Someone else may have refreshed while we waited for the gate.
        if let Some(key) = self.lookup(kid) {
            return Ok(key);
        }
        if last_fetch.is_some_and(|t| t.elapsed() < self.refresh.min_interval) {
            return Err(unknown());
        }
        *last_fetch = Some(Instant::now());
        tracing::info!(kid = %kid_for_log(kid), "unknown key id; refreshing the issuer's keys");
        if let Err(error) = self.fetch_and_apply().await {
            tracing::warn!(%error, "key refresh failed; keeping the previous keys");
            self.note_refresh_error(&error);
        }
        self.lookup(kid).ok_or_else(unknown)
    }

    fn lookup(&self, kid: &str) -> Option<Arc<VerificationKey>> {
        self.keys.load().as_ref()?.by_kid.get(kid).cloned()
    }

    async fn run(self: Arc<Self>) {
        let mut delay = self.refresh.retry_initial;
        loop {
            match self.discover_and_load().await {
                Ok(next) => {
                    delay = self.refresh.retry_initial;
                    tokio::time::sleep(next).await;
                }
                Err(error) => {
                    if self.is_ready() {
                        tracing::warn!(%error, retry_in = ?delay, "key refresh failed; keeping the previous keys");
                        self.note_refresh_error(&error);
                    } else {
                        tracing::warn!(%error, retry_in = ?delay, "identity provider not available yet");
                        self.readiness.store(Arc::new(Readiness::Starting {
                            reason: Some(error.to_string()),
                        }));
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.refresh.retry_max);
                }
            }
        }
    }

    /// One discovery (only until it first succeeds) and one JWKS fetch. Returns
    /// how long to wait before the next periodic refresh.
    async fn discover_and_load(&self) -> Result<Duration, IdpError> {
        if self.jwks_uri.load().is_none() {
            let discovery = self.idp.discover().await?;
            tracing::info!(issuer = %self.idp.issuer(), jwks_uri = %discovery.jwks_uri, "discovered the identity provider");
            self.jwks_uri.store(Some(Arc::new(discovery.jwks_uri)));
        }
        self.fetch_and_apply().await
    }

    /// Fetches the JWKS and swaps in the new key set. Returns the refresh interval.
    async fn fetch_and_apply(&self) -> Result<Duration, IdpError> {
        let uri = self
            .jwks_uri
            .load_full()
            .ok_or_else(|| IdpError::NoUsableKeys("(not discovered yet)".into()))?;
        let fetched = self.idp.fetch_jwks(&uri).await?;
        let mut set = KeySet::default();
        for jwk in &fetched.keys {
            if let Some(key) = self.verification_key(jwk) {
                set.by_kid.insert(Arc::clone(&key.kid), Arc::new(key));
            }
        }
        if set.by_kid.is_empty() {
            return Err(IdpError::NoUsableKeys(uri.to_string()));
        }
        let ignored = fetched.keys.len() + fetched.skipped - set.by_kid.len();
        tracing::info!(
            keys = set.by_kid.len(),
            ignored,
            "loaded the issuer's signing keys"
        );
        self.readiness.store(Arc::new(Readiness::Ready {
            keys: set.by_kid.len(),
            last_error: None,
        }));
        set.generation = NEXT_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.keys.store(Some(Arc::new(set)));
        Ok(self.next_refresh(fetched.max_age))
    }

    fn next_refresh(&self, max_age: Option<Duration>) -> Duration {
        match max_age {
            // Honour the IdP's cache lifetime, but never hammer it nor go stale for a day.
            Some(age) => age.clamp(
                self.refresh.min_interval.max(Duration::from_secs(1)),
                Duration::from_secs(86_400),
            ),
            None => self.refresh.default_interval,
        }
    }

    fn note_refresh_error(&self, error: &IdpError) {
        if let Readiness::Ready { keys, .. } = **self.readiness.load() {
            self.readiness.store(Arc::new(Readiness::Ready {
                keys,
                last_error: Some(error.to_string()),
            }));
        }
    }

    /// Turns a JWK into a verification key, or `None` when it cannot verify tokens
    /// with the accepted algorithms (encryption keys, symmetric keys, other curves).
    fn verification_key(&self, jwk: &Jwk) -> Option<VerificationKey> {
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
            return None;
        }
        let candidates: Vec<Algorithm> = match &jwk.algorithm {
            // Symmetric keys never verify anything here.
            AlgorithmParameters::OctetKey(_) | AlgorithmParameters::Other(_) => return None,
            AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
            AlgorithmParameters::RSA(_) => family(AlgorithmFamily::Rsa),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => return None,
            },
            // Key types jsonwebtoken may add later are not trusted until reviewed.
            _ => return None,
        };
        // A key that names its algorithm is used with that algorithm only.
        let declared: Option<Algorithm> = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse().ok());
        let algorithms: Vec<Algorithm> = candidates
            .into_iter()
            .filter(|a| declared.is_none_or(|d| d == *a))
            .filter(|a| self.policy.algorithms.contains(a))
            .collect();
        let first = *algorithms.first()?;
        let key = DecodingKey::from_jwk(jwk).ok()?;

        let mut validation = Validation::new(first);
        validation.algorithms = algorithms;
        validation.set_issuer(&[&self.policy.issuer]);
        validation.set_audience(&self.policy.audiences);
        validation.leeway = self.policy.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // `iss`, `aud` and `sub` are required too, checked in a fixed order by
        // claim_rules::check_required_claims (jsonwebtoken's order is a HashSet's).
        validation.set_required_spec_claims(&["exp"]);

        let kid: Arc<str> = jwk.common.key_id.as_deref().unwrap_or("").into();
        let material = key_material(jwk, &validation.algorithms)?;
        Some(VerificationKey {
            kid,
            key,
            validation,
            material,
        })
    }
}

/// What makes a key the same key: its parameters and the algorithms it verifies.
fn key_material(jwk: &Jwk, algorithms: &[Algorithm]) -> Option<KeyMaterial> {
    let mut bytes = serde_json::to_vec(&jwk.algorithm).ok()?;
    bytes.extend(format!("{algorithms:?}").bytes());
    Some(sha256(&bytes))
}

/// SHA-256 as an array: the key of every cache that must never hold what it names
/// (verified and refused tokens, key material).
pub(super) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

fn family(f: AlgorithmFamily) -> Vec<Algorithm> {
    [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ]
    .into_iter()
    .filter(|a| a.family() == f)
    .collect()
}

fn single_key(set: &KeySet) -> Result<Arc<VerificationKey>, KeyLookupError> {
    let mut keys = set.by_kid.values();
    match (keys.next(), keys.next()) {
        (Some(key), None) => Ok(Arc::clone(key)),
        _ => Err(KeyLookupError::Rejected(TokenRejection::MissingKeyId)),
    }
}

/// A `kid` comes from an unverified token: log a bounded, printable form only.
fn kid_for_log(kid: &str) -> String {
    kid.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

#[derive(Debug)]
pub enum KeyLookupError {
    /// No key set has been loaded yet (the IdP has not answered).
    NotReady,
    Rejected(TokenRejection),
}
