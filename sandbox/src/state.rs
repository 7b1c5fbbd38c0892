//! Shared state of a running sandbox.

use std::{
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::Duration,
};

use crate::{
    downloads::Downloads, faults::Faults, grants::GrantStore, request_log::RequestLog, seed::Seed,
    store::Store, tokens::TokenStore,
};

/// How long tokens live.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access tokens (Box: 60 minutes).
    pub access: Duration,
    /// Refresh tokens of the user grants (Box: 60 days).
    pub refresh: Duration,
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    store: RwLock<Store>,
    tokens: Mutex<TokenStore>,
    /// Never locked while `tokens` is held: take what you need from one, drop it, then
    /// lock the other.
    grants: Mutex<GrantStore>,
    faults: Mutex<Faults>,
    downloads: Mutex<Downloads>,
    pub log: RequestLog,
    pub seed: Seed,
    /// `http://HOST:PORT`, no trailing slash.
    pub base_url: String,
    /// Lifetime of parent tokens (CCG, JWT and user access tokens).
    pub token_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl: Duration,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(seed: Seed, store: Store, base_url: String, lifetimes: Lifetimes) -> Self {
        AppState(Arc::new(Inner {
            store: RwLock::new(store),
            tokens: Mutex::new(TokenStore::default()),
            grants: Mutex::new(GrantStore::default()),
            faults: Mutex::new(Faults::default()),
            downloads: Mutex::new(Downloads::default()),
            log: RequestLog::default(),
            seed,
            base_url,
            token_ttl: lifetimes.access,
            refresh_token_ttl: lifetimes.refresh,
        }))
    }

    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.0.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.0.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        self.0.tokens.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn grants(&self) -> MutexGuard<'_, GrantStore> {
        self.0.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Revokes the access tokens (by fingerprint) of a revoked grant.
    pub fn revoke_access_tokens(&self, fingerprints: &[String]) {
        let mut tokens = self.tokens();
        for fp in fingerprints {
            tokens.revoke_fingerprint(fp);
        }
    }

    /// Ends every grant of `user` (to `client_id`, or to any app) and its tokens;
    /// returns how many grants ended.
    pub fn revoke_user_grants(&self, user: &str, client_id: Option<&str>) -> usize {
        let (tokens, n) = self.grants().revoke_user(user, client_id);
        self.revoke_access_tokens(&tokens);
        n
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.0.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn downloads(&self) -> MutexGuard<'_, Downloads> {
        self.0
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Content back to the seed; tokens, faults, download links and the request log
    /// cleared.
    pub fn reset(&self) {
        if let Ok(fresh) = Store::from_seed(&self.seed) {
            *self.store_mut() = fresh;
        }
        self.tokens().clear();
        self.grants().clear();
        self.faults().clear();
        *self.downloads() = Downloads::default();
        self.log.clear();
    }
}
