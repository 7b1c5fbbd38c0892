//! Rate limits ([`RateLimitConfig`]): token buckets (governor's GCRA) keyed by
//! client address and by verified subject, and a stricter one on refused tokens
//! that, once spent, turns an address's token-bearing requests away before any
//! verification work. A limited request gets 429 with `Retry-After`
//! ([`super::ApiError::RateLimited`]).
//!
//! IPv6 clients are counted by their /64: one host usually holds a whole /64,
//! and counting single addresses would give it 2^64 buckets.

mod config;

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock as _};

use crate::auth::Principal;

pub use config::{Bucket, RateLimitConfig};

/// Which limit refused a request (the 429 body, the audit, the metrics say it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Subject,
    Client,
    FailedTokens,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Client => "client_address",
            Self::FailedTokens => "failed_tokens",
        }
    }
}

/// Every this many checks of a limiter, the buckets that are full again are
/// dropped, so the maps hold only recently active keys.
const PRUNE_EVERY: u64 = 8192;

/// The most client addresses held as throttled for failed tokens at once.
const MAX_THROTTLED: u64 = 100_000;

/// A keyed limiter that forgets keys whose buckets have refilled.
struct Keyed<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> Keyed<K> {
    fn new(bucket: Bucket) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota(bucket)),
            checks: AtomicU64::new(0),
        }
    }

    /// `Err(wait)` when `key`'s bucket is empty.
    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }
}

fn quota(bucket: Bucket) -> Quota {
    let burst = NonZeroU32::new(bucket.burst).unwrap_or(NonZeroU32::MIN);
    // `with_period` refuses only a zero period, which validation rules out.
    Quota::with_period(bucket.period())
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// The address a bucket is kept for: the address itself, or an IPv6 address's /64.
fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// The per-client limit, in front of everything on `/mcp`.
pub async fn limit_client(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<super::AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let (Some(limits), Some(client)) = (
        &state.rate_limits,
        crate::audit::client_of(request.extensions()),
    ) && let Err(retry_after) = limits.check_client(client)
    {
        tracing::info!(
            limit = Limit::Client.as_str(),
            "request refused: rate limited"
        );
        return super::ApiError::RateLimited {
            limit: Limit::Client,
            retry_after,
        }
        .into_response_with(&state.challenge);
    }
    next.run(request).await
}

/// The server's rate limits; `None` in [`super::AppState`] when they are off.
pub struct RateLimits {
    per_subject: Keyed<String>,
    per_client: Keyed<IpAddr>,
    failed_tokens: Keyed<IpAddr>,
    /// Addresses whose failed-token bucket is empty, and until when.
    throttled: moka::sync::Cache<IpAddr, Instant>,
    /// The latest moment any address is throttled until, in nanoseconds after
    /// `created`: while it is past, no address is throttled and the lookup in
    /// `throttled` (on every request with a token) is skipped.
    throttled_until: AtomicU64,
    created: Instant,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Option<Self> {
        config.enabled.then(|| Self {
            per_subject: Keyed::new(config.per_subject),
            per_client: Keyed::new(config.per_client),
            failed_tokens: Keyed::new(config.failed_tokens),
            throttled: moka::sync::Cache::builder()
                .max_capacity(MAX_THROTTLED)
                // No address stays throttled longer than one refill.
                .time_to_live(config.failed_tokens.period())
                .build(),
            throttled_until: AtomicU64::new(0),
            created: Instant::now(),
        })
    }

    /// A request from `client`, before anything else is done with it.
    pub fn check_client(&self, client: IpAddr) -> Result<(), Duration> {
        self.per_client.check(&bucket_of(client))
    }

    /// A request from `client` that carries a token, before the token is verified.
    pub fn check_not_throttled(&self, client: IpAddr) -> Result<(), Duration> {
        if self.nanos_since_created(Instant::now()) >= self.throttled_until.load(Ordering::Relaxed)
        {
            return Ok(());
        }
        match self.throttled.get(&bucket_of(client)) {
            Some(until) => match until.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => Err(wait),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// `client`'s token was refused: spend from its failed-token bucket, and
    /// throttle it when the bucket is empty.
    pub fn token_refused(&self, client: IpAddr) {
        let key = bucket_of(client);
        if let Err(wait) = self.failed_tokens.check(&key) {
            let until = Instant::now() + wait;
            self.throttled.insert(key, until);
            self.throttled_until
                .fetch_max(self.nanos_since_created(until), Ordering::Relaxed);
        }
    }

    fn nanos_since_created(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.created).as_nanos()).unwrap_or(u64::MAX)
    }

    /// A request by a verified caller (one issuer, so its subject is the key).
    pub fn check_subject(&self, principal: &Principal) -> Result<(), Duration> {
        // Looked up by reference; the key is cloned only when the subject is new.
        self.per_subject.check(&principal.subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            ..crate::authz::tests::principal(&[], &[], None)
        }
    }

    fn limits(burst: u32, per_second: f64) -> RateLimits {
        let bucket = Bucket { per_second, burst };
        RateLimits::new(&RateLimitConfig {
            enabled: true,
            per_subject: bucket,
            per_client: bucket,
            failed_tokens: bucket,
        })
        .unwrap()
    }

    #[test]
    fn a_burst_over_the_bucket_is_refused_with_a_wait_and_others_are_not_affected() {
        let limits = limits(3, 0.5);
        for _ in 0..3 {
            limits.check_subject(&caller("alice")).unwrap();
        }
        let wait = limits.check_subject(&caller("alice")).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(2),
            "{wait:?}"
        );
        limits.check_subject(&caller("bob")).unwrap();
    }

    #[test]
    fn ipv6_clients_share_their_slash_64_and_ipv4_mapped_is_ipv4() {
        let limits = limits(1, 0.5);
        limits.check_client("2001:db8::1".parse().unwrap()).unwrap();
        assert!(
            limits
                .check_client("2001:db8::ffff".parse().unwrap())
                .is_err()
        );
        limits
            .check_client("2001:db8:0:1::1".parse().unwrap())
            .unwrap();
        limits.check_client("10.0.0.1".parse().unwrap()).unwrap();
        assert!(
            limits
                .check_client("::ffff:10.0.0.1".parse().unwrap())
                .is_err()
        );
    }

    #[test]
    fn failed_tokens_throttle_an_address_only_once_its_bucket_is_spent() {
        let limits = limits(2, 0.5);
        let attacker: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..2 {
            limits.check_not_throttled(attacker).unwrap();
            limits.token_refused(attacker);
        }
        limits.check_not_throttled(attacker).unwrap();
        limits.token_refused(attacker);
        assert!(limits.check_not_throttled(attacker).is_err());
        limits
            .check_not_throttled("192.0.2.8".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn a_throttle_ends_when_the_bucket_has_refilled() {
        // One failed token a millisecond; a burst of one.
        let limits = limits(1, 1000.0);
        let attacker: IpAddr = "192.0.2.9".parse().unwrap();
        limits.token_refused(attacker);
        limits.token_refused(attacker);
        assert!(limits.check_not_throttled(attacker).is_err());
        std::thread::sleep(Duration::from_millis(5));
        limits.check_not_throttled(attacker).unwrap();
    }

    #[test]
    fn disabled_limits_are_none() {
        let config = RateLimitConfig {
            enabled: false,
            ..RateLimitConfig::default()
        };
        assert!(RateLimits::new(&config).is_none());
    }
}
