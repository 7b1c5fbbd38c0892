//! Cached Box tokens: keyed by a SHA-256 of what the token is for (never of, or
//! by, a token), kept until shortly before they expire.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{future::Cache, policy::Expiry};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// A cache key: SHA-256 over length-prefixed fields.
pub(crate) type Key = [u8; 32];

/// A Box access token with the time it should be replaced.
pub(crate) struct IssuedToken {
    pub token: SecretString,
    /// When the cached copy stops being handed out: the expiry minus the margin.
    pub refresh_at: Instant,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("refresh_at", &self.refresh_at)
            .finish()
    }
}

impl IssuedToken {
    /// A token valid for `expires_in` from `issued_at`, refreshed `margin`
    /// before that; a token living less than twice the margin is refreshed
    /// at half its life instead.
    pub fn new(
        token: SecretString,
        issued_at: Instant,
        expires_in: Duration,
        margin: Duration,
    ) -> Self {
        let margin = margin.min(expires_in / 2);
        Self {
            token,
            refresh_at: issued_at + expires_in - margin,
        }
    }
}

/// Evicts each token at its `refresh_at`.
struct UntilRefresh;

impl Expiry<Key, Arc<IssuedToken>> for UntilRefresh {
    fn expire_after_create(
        &self,
        _key: &Key,
        value: &Arc<IssuedToken>,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(value.refresh_at.saturating_duration_since(created_at))
    }
}

pub(crate) fn token_cache(capacity: u64) -> Cache<Key, Arc<IssuedToken>> {
    Cache::builder()
        .max_capacity(capacity)
        .expire_after(UntilRefresh)
        .build()
}

/// A found user is kept `ttl`; a miss at most a minute, so a newly provisioned
/// user does not wait long.
struct LookupExpiry {
    ttl: Duration,
}

impl Expiry<Key, Option<String>> for LookupExpiry {
    fn expire_after_create(
        &self,
        _key: &Key,
        value: &Option<String>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(match value {
            Some(_) => self.ttl,
            None => self.ttl.min(Duration::from_secs(60)),
        })
    }
}

pub(crate) fn lookup_cache(capacity: u64, ttl: Duration) -> Cache<Key, Option<String>> {
    Cache::builder()
        .max_capacity(capacity)
        .expire_after(LookupExpiry { ttl })
        .build()
}

/// Hashes the fields with a domain label, each length-prefixed so that
/// `("ab", "c")` and `("a", "bc")` differ.
pub(crate) fn key(domain: &str, fields: &[&str]) -> Key {
    let mut hash = Sha256::new();
    for field in std::iter::once(&domain).chain(fields) {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hash.finalize().into()
}

/// The key of a parent token: which grant, for which Box subject.
pub(crate) fn parent_key(strategy: &str, subject_type: &str, subject_id: &str) -> Key {
    key("parent", &[strategy, subject_type, subject_id])
}

/// The key of a downscoped token: the parent's identity, the resource, and the
/// scopes (sorted and deduplicated by the caller), each field on its own.
pub(crate) fn downscoped_key(
    strategy: &str,
    subject_type: &str,
    subject_id: &str,
    scopes: &[&str],
    resource: Option<&str>,
) -> Key {
    let resource = match resource {
        Some(r) => format!("resource:{r}"),
        None => "no-resource".to_string(),
    };
    let mut fields = vec![strategy, subject_type, subject_id, resource.as_str()];
    fields.extend_from_slice(scopes);
    key("downscoped", &fields)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn keys_separate_every_field() {
        let base = downscoped_key("ccg", "user", "1", &["item_preview"], None);
        assert_eq!(
            base,
            downscoped_key("ccg", "user", "1", &["item_preview"], None)
        );
        for other in [
            downscoped_key("jwt", "user", "1", &["item_preview"], None),
            downscoped_key("ccg", "enterprise", "1", &["item_preview"], None),
            downscoped_key("ccg", "user", "2", &["item_preview"], None),
            downscoped_key("ccg", "user", "1", &["item_download"], None),
            downscoped_key(
                "ccg",
                "user",
                "1",
                &["item_preview"],
                Some("https://api.box.com/2.0/files/1"),
            ),
            parent_key("ccg", "user", "1"),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn length_prefixes_prevent_ambiguity() {
        assert_ne!(key("d", &["ab", "c"]), key("d", &["a", "bc"]));
        assert_ne!(
            downscoped_key("ccg", "user", "1", &["a b"], None),
            downscoped_key("ccg", "user", "1", &["a", "b"], Some(""))
        );
    }

    #[test]
    fn keys_are_hashes_not_inputs() {
        let k = parent_key("ccg", "user", "31000001");
        let text = String::from_utf8_lossy(&k);
        assert!(!text.contains("31000001"));
        assert_eq!(k.len(), 32);
    }

    #[test]
    fn refresh_happens_a_margin_before_expiry_or_at_half_life() {
        let now = Instant::now();
        let t = IssuedToken::new(
            "t".into(),
            now,
            Duration::from_secs(3600),
            Duration::from_secs(60),
        );
        assert_eq!(t.refresh_at, now + Duration::from_secs(3540));
        let t = IssuedToken::new(
            "t".into(),
            now,
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        assert_eq!(t.refresh_at, now + Duration::from_secs(30));
        assert_eq!(t.token.expose_secret(), "t");
        assert!(!format!("{t:?}").contains("\"t\""));
    }
}
