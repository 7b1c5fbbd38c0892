//! Shared state of a running sandbox.

use std::{
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::Duration,
};

use crate::{
    downloads::Downloads, faults::Faults, request_log::RequestLog, seed::Seed, store::Store,
    tokens::TokenStore,
};

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    store: RwLock<Store>,
    tokens: Mutex<TokenStore>,
    faults: Mutex<Faults>,
    downloads: Mutex<Downloads>,
    pub log: RequestLog,
    pub seed: Seed,
    /// `http://HOST:PORT`, no trailing slash.
    pub base_url: String,
    /// Lifetime of parent tokens.
    pub token_ttl: Duration,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(seed: Seed, store: Store, base_url: String, token_ttl: Duration) -> Self {
        AppState(Arc::new(Inner {
            store: RwLock::new(store),
            tokens: Mutex::new(TokenStore::default()),
            faults: Mutex::new(Faults::default()),
            downloads: Mutex::new(Downloads::default()),
            log: RequestLog::default(),
            seed,
            base_url,
            token_ttl,
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
        self.faults().clear();
        *self.downloads() = Downloads::default();
        self.log.clear();
    }
}
