//! Box's OAuth 2.0 for users, the state behind it: the sign-in tickets of the
//! authorize pages, authorization codes, and refresh tokens with rotation, each
//! belonging to one grant (one user's consent to one app).
//!
//! Rules (README, *OAuth 2.0 for users*):
//! - a ticket (login done, consent pending) and a code work once and lapse (10 min,
//!   30 s, as Box's codes do);
//! - a code is bound to its client and redirect URI; a second use of a code revokes
//!   the grant it created (RFC 6749 §4.1.2);
//! - every refresh token works once and yields a new pair; presenting a spent one
//!   revokes the whole grant, the replay detection OAuth 2.1 asks of rotating servers,
//!   so a client that used a refresh token twice finds out at once;
//! - revoking any token of a grant revokes the grant.
//!
//! Raw values are never stored: codes, tickets and refresh tokens are known by their
//! SHA-256 fingerprint, as access tokens are.

use std::{
    collections::{BTreeSet, HashMap},
    time::{Duration, Instant},
};

use crate::{ids, tokens::fingerprint};

/// How long the consent page may wait after the login.
pub const TICKET_TTL: Duration = Duration::from_secs(600);
/// Box's authorization codes last 30 seconds.
pub const CODE_TTL: Duration = Duration::from_secs(30);

/// What the app asked for at `/api/oauth2/authorize`, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the request named the redirect URI (then the token request must too).
    pub redirect_uri_given: bool,
    pub scopes: BTreeSet<String>,
    pub state: Option<String>,
}

/// A grant: one user's consent to one app, and the tokens issued under it.
#[derive(Debug, Clone)]
pub struct Grant {
    pub id: u64,
    pub client_id: String,
    pub user: String,
    pub scopes: BTreeSet<String>,
    pub revoked: bool,
    /// Fingerprints of the access tokens issued under this grant.
    pub access_tokens: Vec<String>,
}

struct Ticket {
    request: AuthRequest,
    user: String,
    expires_at: Instant,
}

struct Code {
    request: AuthRequest,
    user: String,
    expires_at: Instant,
    /// The grant made when the code was redeemed.
    redeemed: Option<u64>,
}

struct Refresh {
    grant: u64,
    client_id: String,
    expires_at: Instant,
    spent: bool,
}

/// Why a code or refresh token was refused. Each is Box's `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    #[error("The authorization code is invalid or has expired")]
    BadCode,
    #[error("The authorization code was already used; the grant it made is revoked")]
    CodeReused,
    #[error("The redirect_uri does not match the one of the authorization request")]
    RedirectMismatch,
    #[error("The token was issued to another client")]
    WrongClient,
    #[error("Refresh token has expired")]
    RefreshExpired,
    #[error("The refresh token is unknown")]
    RefreshUnknown,
    #[error("The refresh token was already used; every token of its grant is revoked")]
    RefreshReused,
    #[error("The grant was revoked")]
    Revoked,
}

/// What a redeemed code or a rotated refresh token yields: the grant to issue under,
/// and a new refresh token (raw).
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub grant: Grant,
    pub refresh_token: String,
}

#[derive(Default)]
pub struct GrantStore {
    tickets: HashMap<String, Ticket>,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Refresh>,
    grants: HashMap<u64, Grant>,
    next_grant: u64,
}

fn later(ttl: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(ttl.min(Duration::from_secs(100 * 365 * 86_400)))
        .unwrap_or(now)
}

impl GrantStore {
    /// After a successful login: a one-use ticket for the consent page.
    pub fn open_ticket(&mut self, request: AuthRequest, user: String) -> String {
        let now = Instant::now();
        self.tickets.retain(|_, t| t.expires_at > now);
        let raw = ids::random_alnum(32);
        self.tickets.insert(
            fingerprint(&raw),
            Ticket {
                request,
                user,
                expires_at: later(TICKET_TTL),
            },
        );
        raw
    }

    /// The ticket's request and user, once; `None` if unknown, used or lapsed.
    pub fn take_ticket(&mut self, raw: &str) -> Option<(AuthRequest, String)> {
        let ticket = self.tickets.remove(&fingerprint(raw))?;
        (ticket.expires_at > Instant::now()).then_some((ticket.request, ticket.user))
    }

    /// After consent: a code for the redirect.
    pub fn issue_code(&mut self, request: AuthRequest, user: String) -> String {
        let now = Instant::now();
        self.codes
            .retain(|_, c| c.expires_at > now || c.redeemed.is_some());
        let raw = ids::random_alnum(32);
        self.codes.insert(
            fingerprint(&raw),
            Code {
                request,
                user,
                expires_at: later(CODE_TTL),
                redeemed: None,
            },
        );
        raw
    }

    /// The `authorization_code` grant: the code's grant and its first refresh token.
    /// On a second use the grant is revoked; the caller revokes its access tokens
    /// (`Err` carries none: use [`GrantStore::revoke_grant`]'s answer).
    pub fn redeem_code(
        &mut self,
        raw: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        refresh_ttl: Duration,
    ) -> Result<Redeemed, (GrantError, Vec<String>)> {
        let fp = fingerprint(raw);
        let code = self
            .codes
            .get(&fp)
            .ok_or((GrantError::BadCode, Vec::new()))?;
        if code.request.client_id != client_id {
            return Err((GrantError::WrongClient, Vec::new()));
        }
        if let Some(grant) = code.redeemed {
            let revoked = self.revoke_grant(grant);
            return Err((GrantError::CodeReused, revoked));
        }
        if code.expires_at <= Instant::now() {
            return Err((GrantError::BadCode, Vec::new()));
        }
        let uri_matches = match redirect_uri {
            Some(uri) => uri == code.request.redirect_uri,
            None => !code.request.redirect_uri_given,
        };
        if !uri_matches {
            return Err((GrantError::RedirectMismatch, Vec::new()));
        }
        self.next_grant += 1;
        let id = self.next_grant;
        let grant = Grant {
            id,
            client_id: code.request.client_id.clone(),
            user: code.user.clone(),
            scopes: code.request.scopes.clone(),
            revoked: false,
            access_tokens: Vec::new(),
        };
        if let Some(code) = self.codes.get_mut(&fp) {
            code.redeemed = Some(id);
        }
        self.grants.insert(id, grant.clone());
        let refresh_token = self.new_refresh(id, client_id, refresh_ttl);
        Ok(Redeemed {
            grant,
            refresh_token,
        })
    }

    /// The `refresh_token` grant: spends `raw` and returns a new refresh token.
    /// A spent token revokes its grant; `Err` then carries the access tokens to revoke.
    pub fn rotate(
        &mut self,
        raw: &str,
        client_id: &str,
        refresh_ttl: Duration,
    ) -> Result<Redeemed, (GrantError, Vec<String>)> {
        let fp = fingerprint(raw);
        let refresh = self
            .refresh
            .get(&fp)
            .ok_or((GrantError::RefreshUnknown, Vec::new()))?;
        if refresh.client_id != client_id {
            return Err((GrantError::WrongClient, Vec::new()));
        }
        let grant_id = refresh.grant;
        if refresh.spent {
            let revoked = self.revoke_grant(grant_id);
            return Err((GrantError::RefreshReused, revoked));
        }
        if refresh.expires_at <= Instant::now() {
            return Err((GrantError::RefreshExpired, Vec::new()));
        }
        let grant = match self.grants.get(&grant_id) {
            Some(g) if !g.revoked => g.clone(),
            _ => return Err((GrantError::Revoked, Vec::new())),
        };
        if let Some(r) = self.refresh.get_mut(&fp) {
            r.spent = true;
        }
        let refresh_token = self.new_refresh(grant_id, client_id, refresh_ttl);
        Ok(Redeemed {
            grant,
            refresh_token,
        })
    }

    fn new_refresh(&mut self, grant: u64, client_id: &str, ttl: Duration) -> String {
        let raw = ids::random_alnum(64);
        self.refresh.insert(
            fingerprint(&raw),
            Refresh {
                grant,
                client_id: client_id.to_string(),
                expires_at: later(ttl),
                spent: false,
            },
        );
        raw
    }

    /// Records an access token issued under `grant`.
    pub fn record_access(&mut self, grant: u64, access_fingerprint: String) {
        if let Some(g) = self.grants.get_mut(&grant) {
            g.access_tokens.push(access_fingerprint);
        }
    }

    /// Revokes a grant; returns the fingerprints of its access tokens, for the
    /// token store to revoke.
    pub fn revoke_grant(&mut self, grant: u64) -> Vec<String> {
        match self.grants.get_mut(&grant) {
            Some(g) => {
                g.revoked = true;
                g.access_tokens.clone()
            }
            None => Vec::new(),
        }
    }

    /// The grant a token belongs to: a refresh token (raw) or an access token (raw).
    pub fn grant_of_token(&self, raw: &str) -> Option<u64> {
        let fp = fingerprint(raw);
        if let Some(r) = self.refresh.get(&fp) {
            return Some(r.grant);
        }
        self.grants
            .values()
            .find(|g| g.access_tokens.contains(&fp))
            .map(|g| g.id)
    }

    /// Revokes every grant of `user` (to `client_id`, or to any app); returns the
    /// access tokens to revoke and how many grants were revoked.
    pub fn revoke_user(&mut self, user: &str, client_id: Option<&str>) -> (Vec<String>, usize) {
        let mut tokens = Vec::new();
        let mut n = 0;
        for g in self.grants.values_mut() {
            if g.user == user && !g.revoked && client_id.is_none_or(|c| c == g.client_id) {
                g.revoked = true;
                tokens.extend(g.access_tokens.iter().cloned());
                n += 1;
            }
        }
        (tokens, n)
    }

    /// Forces every refresh token to lapse (tests of expiry).
    pub fn expire_refresh_tokens(&mut self) -> usize {
        let now = Instant::now();
        self.refresh.values_mut().for_each(|r| r.expires_at = now);
        self.refresh.len()
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn request() -> AuthRequest {
        AuthRequest {
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:1/cb".into(),
            redirect_uri_given: true,
            scopes: ["root_readwrite".to_string()].into(),
            state: Some("s".into()),
        }
    }

    #[test]
    fn a_ticket_works_once() {
        let mut store = GrantStore::default();
        let ticket = store.open_ticket(request(), "41000001".into());
        assert_eq!(store.take_ticket(&ticket).unwrap().1, "41000001");
        assert!(store.take_ticket(&ticket).is_none());
        assert!(store.take_ticket("forged").is_none());
    }

    #[test]
    fn a_code_is_bound_to_client_and_redirect_and_a_second_use_revokes_its_grant() {
        let mut store = GrantStore::default();
        let code = store.issue_code(request(), "41000001".into());
        let wrong_client = store.redeem_code(&code, "other", Some("http://127.0.0.1:1/cb"), DAY);
        assert_eq!(wrong_client.unwrap_err().0, GrantError::WrongClient);
        let wrong_uri = store.redeem_code(&code, "app", Some("http://127.0.0.1:2/cb"), DAY);
        assert_eq!(wrong_uri.unwrap_err().0, GrantError::RedirectMismatch);
        let missing_uri = store.redeem_code(&code, "app", None, DAY);
        assert_eq!(missing_uri.unwrap_err().0, GrantError::RedirectMismatch);

        let first = store
            .redeem_code(&code, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap();
        store.record_access(first.grant.id, "access-fp".into());
        let (err, revoked) = store
            .redeem_code(&code, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap_err();
        assert_eq!(err, GrantError::CodeReused);
        assert_eq!(revoked, ["access-fp"]);
        let refresh = store.rotate(&first.refresh_token, "app", DAY);
        assert_eq!(refresh.unwrap_err().0, GrantError::Revoked);
    }

    #[test]
    fn refresh_tokens_rotate_and_a_spent_one_revokes_the_grant() {
        let mut store = GrantStore::default();
        let code = store.issue_code(request(), "41000001".into());
        let first = store
            .redeem_code(&code, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap();
        let second = store.rotate(&first.refresh_token, "app", DAY).unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        let third = store.rotate(&second.refresh_token, "app", DAY).unwrap();
        store.record_access(third.grant.id, "access-fp".into());

        let (err, revoked) = store.rotate(&first.refresh_token, "app", DAY).unwrap_err();
        assert_eq!(err, GrantError::RefreshReused);
        assert_eq!(revoked, ["access-fp"]);
        // The newest token of the grant dies with it.
        let after = store.rotate(&third.refresh_token, "app", DAY).unwrap_err();
        assert_eq!(after.0, GrantError::Revoked);
        assert_eq!(
            store.rotate("unknown", "app", DAY).unwrap_err().0,
            GrantError::RefreshUnknown
        );
    }

    #[test]
    fn refresh_tokens_lapse_and_belong_to_their_client() {
        let mut store = GrantStore::default();
        let code = store.issue_code(request(), "41000001".into());
        let first = store
            .redeem_code(&code, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap();
        assert_eq!(
            store
                .rotate(&first.refresh_token, "other", DAY)
                .unwrap_err()
                .0,
            GrantError::WrongClient
        );
        store.expire_refresh_tokens();
        assert_eq!(
            store
                .rotate(&first.refresh_token, "app", DAY)
                .unwrap_err()
                .0,
            GrantError::RefreshExpired
        );
    }

    #[test]
    fn revoking_a_user_revokes_their_grants_only() {
        let mut store = GrantStore::default();
        let a = store.issue_code(request(), "41000001".into());
        let b = store.issue_code(request(), "51000001".into());
        let a = store
            .redeem_code(&a, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap();
        let b = store
            .redeem_code(&b, "app", Some("http://127.0.0.1:1/cb"), DAY)
            .unwrap();
        assert_eq!(store.revoke_user("41000001", None).1, 1);
        assert_eq!(
            store.rotate(&a.refresh_token, "app", DAY).unwrap_err().0,
            GrantError::Revoked
        );
        assert!(store.rotate(&b.refresh_token, "app", DAY).is_ok());
        assert_eq!(store.grant_of_token(&b.refresh_token), Some(b.grant.id));
    }
}
