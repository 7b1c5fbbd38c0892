//! The decision cache: a bounded, sharded map from a decision's key hash to the
//! decision. Lookups take one shard's read lock and no allocation (moka, tried
//! first, spent about 130 ns of a 300 ns warm decision on its bookkeeping).
//!
//! Keys are already hashes (keyed per snapshot), so the maps do not hash them
//! again; entries are checked against the request on hit, so a collision costs a
//! recomputation, never a wrong answer. A full shard drops an arbitrary entry:
//! the hot set (role combinations × tools) is small, and an evicted decision is
//! only recomputed.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
    sync::Arc,
};

use parking_lot::RwLock;

const SHARDS: usize = 16;

/// Uses a `u64` key as its own hash.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Shard<V> = RwLock<HashMap<u64, Arc<V>, BuildHasherDefault<KeyHasher>>>;

pub(crate) struct DecisionCache<V> {
    shards: Box<[Shard<V>]>,
    shard_capacity: usize,
}

impl<V> DecisionCache<V> {
    /// A cache of about `capacity` entries (at least one per shard).
    pub fn new(capacity: u64) -> Self {
        let shard_capacity = usize::try_from(capacity.div_ceil(SHARDS as u64))
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            shard_capacity,
        }
    }

    fn shard(&self, key: u64) -> &Shard<V> {
        // The low bits pick the bucket inside a shard and the top 7 its tag; the
        // middle ones pick the shard.
        &self.shards[(key >> 32) as usize % SHARDS]
    }

    pub fn get(&self, key: u64) -> Option<Arc<V>> {
        self.shard(key).read().get(&key).cloned()
    }

    pub fn insert(&self, key: u64, value: Arc<V>) {
        let mut shard = self.shard(key).write();
        if shard.len() >= self.shard_capacity
            && !shard.contains_key(&key)
            && let Some(victim) = shard.keys().next().copied()
        {
            shard.remove(&victim);
        }
        shard.insert(key, value);
    }

    pub fn len(&self) -> u64 {
        self.shards.iter().map(|s| s.read().len() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_exact() {
        let cache = DecisionCache::new(32);
        for k in 0..1000u64 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            cache.insert(key, Arc::new(k));
            assert_eq!(cache.get(key).as_deref(), Some(&k));
        }
        assert!(cache.len() <= 32, "{}", cache.len());
        let one = DecisionCache::new(0);
        one.insert(1, Arc::new(1));
        one.insert(1, Arc::new(2));
        assert_eq!(one.get(1).as_deref(), Some(&2));
        assert_eq!(one.len(), 1);
    }
}
