//! Access tokens: opaque random strings, known here only by their SHA-256
//! fingerprint, with the subject, scopes, restriction and expiry they carry.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::{ids, store::ItemKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// From client credentials or a JWT assertion.
    Parent,
    /// From a token exchange.
    Downscoped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    Enterprise,
    User,
}

/// The one item a token is restricted to (and, for a folder, what lies below it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restriction {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: String,
}

impl Restriction {
    pub fn new(kind: ItemKind, id: String) -> Self {
        Self {
            kind: kind.as_str(),
            id,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub fingerprint: String,
    pub kind: TokenKind,
    pub client_id: String,
    pub subject_type: SubjectType,
    /// The user the token acts for (the service account for enterprise tokens).
    pub user: String,
    pub scopes: BTreeSet<String>,
    pub restricted_to: Option<Restriction>,
    pub expires_at: Instant,
    /// Fingerprint of the token this one was exchanged from.
    pub parent: Option<String>,
    /// Whether `As-User` is allowed with this token.
    pub as_user_allowed: bool,
    pub revoked: bool,
}

impl TokenRecord {
    /// Seconds left, rounded down.
    pub fn expires_in(&self) -> u64 {
        self.expires_at
            .saturating_duration_since(Instant::now())
            .as_secs()
    }
}

/// What a new token carries.
#[derive(Debug, Clone)]
pub struct Grant {
    pub kind: TokenKind,
    pub client_id: String,
    pub subject_type: SubjectType,
    pub user: String,
    pub scopes: BTreeSet<String>,
    pub restricted_to: Option<Restriction>,
    pub ttl: Duration,
    pub parent: Option<String>,
    pub as_user_allowed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("unknown token")]
    Unknown,
    #[error("expired token")]
    Expired,
    #[error("revoked token")]
    Revoked,
}

#[derive(Default)]
pub struct TokenStore {
    tokens: HashMap<String, TokenRecord>,
    /// JWT ids seen, with when they may be forgotten.
    jtis: HashMap<String, Instant>,
}

/// `ttl` from now (capped at a century, so an absurd TTL cannot overflow).
fn later(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl.min(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

/// The fingerprint of a raw token: SHA-256, hex.
pub fn fingerprint(raw: &str) -> String {
    ids::sha256_hex(raw.as_bytes())
}

impl TokenStore {
    /// Issue a token; returns the raw value (never stored) and its record.
    pub fn issue(&mut self, grant: Grant) -> (String, TokenRecord) {
        let raw = ids::random_alnum(32);
        let record = TokenRecord {
            fingerprint: fingerprint(&raw),
            kind: grant.kind,
            client_id: grant.client_id,
            subject_type: grant.subject_type,
            user: grant.user,
            scopes: grant.scopes,
            restricted_to: grant.restricted_to,
            expires_at: later(grant.ttl),
            parent: grant.parent,
            as_user_allowed: grant.as_user_allowed,
            revoked: false,
        };
        self.tokens
            .insert(record.fingerprint.clone(), record.clone());
        (raw, record)
    }

    /// The record of a raw token, whatever its state.
    pub fn peek(&self, raw: &str) -> Option<&TokenRecord> {
        self.tokens.get(&fingerprint(raw))
    }

    /// The record of a usable token: known, not expired, not revoked, and every
    /// token it was exchanged from still usable too.
    pub fn validate(&self, raw: &str) -> Result<TokenRecord, TokenError> {
        let record = self
            .tokens
            .get(&fingerprint(raw))
            .ok_or(TokenError::Unknown)?;
        let now = Instant::now();
        let mut cur = Some(record);
        let mut hops = 0;
        while let Some(r) = cur {
            if r.revoked {
                return Err(TokenError::Revoked);
            }
            if r.expires_at <= now {
                return Err(TokenError::Expired);
            }
            hops += 1;
            if hops > 64 {
                return Err(TokenError::Unknown);
            }
            cur = match &r.parent {
                Some(p) => Some(self.tokens.get(p).ok_or(TokenError::Revoked)?),
                None => None,
            };
        }
        Ok(record.clone())
    }

    /// Revoke a raw token (unknown tokens are ignored, as RFC 7009 asks).
    pub fn revoke(&mut self, raw: &str) -> bool {
        self.revoke_fingerprint(&fingerprint(raw))
    }

    /// Revoke a token by fingerprint.
    pub fn revoke_fingerprint(&mut self, fingerprint: &str) -> bool {
        match self.tokens.get_mut(fingerprint) {
            Some(r) => {
                r.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Expire one token by fingerprint, or all of them; returns how many.
    pub fn expire(&mut self, fingerprint: Option<&str>) -> usize {
        let now = Instant::now();
        let mut n = 0;
        for r in self.tokens.values_mut() {
            if fingerprint.is_none_or(|f| f == r.fingerprint) {
                r.expires_at = now;
                n += 1;
            }
        }
        n
    }

    /// Record a JWT id; `false` if it was seen before and has not yet lapsed.
    pub fn use_jti(&mut self, jti: &str, until: Instant) -> bool {
        let now = Instant::now();
        self.jtis.retain(|_, t| *t > now);
        if self.jtis.contains_key(jti) {
            return false;
        }
        self.jtis.insert(jti.to_string(), until);
        true
    }

    pub fn clear(&mut self) {
        self.tokens.clear();
        self.jtis.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(parent: Option<String>) -> Grant {
        Grant {
            kind: if parent.is_some() {
                TokenKind::Downscoped
            } else {
                TokenKind::Parent
            },
            client_id: "app".into(),
            subject_type: SubjectType::User,
            user: "31000001".into(),
            scopes: ["item_preview".to_string()].into(),
            restricted_to: None,
            ttl: Duration::from_secs(60),
            parent,
            as_user_allowed: false,
        }
    }

    #[test]
    fn revoking_a_parent_invalidates_its_children() {
        let mut store = TokenStore::default();
        let (parent, record) = store.issue(grant(None));
        let (child, _) = store.issue(grant(Some(record.fingerprint.clone())));
        assert!(store.validate(&child).is_ok());
        assert!(store.revoke(&parent));
        assert_eq!(store.validate(&parent).unwrap_err(), TokenError::Revoked);
        assert_eq!(store.validate(&child).unwrap_err(), TokenError::Revoked);
        assert_eq!(store.validate("nope").unwrap_err(), TokenError::Unknown);
    }

    #[test]
    fn expiry_and_jti_reuse() {
        let mut store = TokenStore::default();
        let (raw, record) = store.issue(grant(None));
        assert!(record.expires_in() <= 60);
        assert_eq!(store.expire(Some(&record.fingerprint)), 1);
        assert_eq!(store.validate(&raw).unwrap_err(), TokenError::Expired);
        let later = Instant::now() + Duration::from_secs(60);
        assert!(store.use_jti("abc", later));
        assert!(!store.use_jti("abc", later));
    }
}
