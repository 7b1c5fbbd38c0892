//! The one retry policy of every outbound call box-mcp makes to Box: the API
//! client ([`crate::box_api`]) and the token endpoint client of the broker.
//!
//! A call is retried on a transient answer (429, 500, 502, 503, 504) or a
//! connection failure, with exponential backoff and jitter, waiting at least as
//! long as Box's `Retry-After` asks. It is bounded twice: in attempts, and in
//! time since the first attempt, so a caller never waits past the budget.
//!
//! Written here rather than taken from a crate: `backoff` is unmaintained,
//! `backon` and `retry-policies` own the loop (or the clock) but not
//! `Retry-After`, and each caller has its own loop body (the API client renews
//! a rejected token once, the token endpoint client rebuilds its assertion per
//! attempt). What they share is this arithmetic, which is small and tested.

use std::time::Duration;

use reqwest::{
    StatusCode,
    header::{HeaderMap, RETRY_AFTER},
};
use tokio::time::Instant;

/// How one outbound call is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// First backoff; doubles per attempt up to `max_delay`, with jitter.
    pub base_delay: Duration,
    /// Longest backoff between two attempts. A longer `Retry-After` from Box is
    /// honoured while it fits in `max_elapsed`.
    pub max_delay: Duration,
    /// No attempt starts, and none runs on, past this much time after the first.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_elapsed: Duration::from_secs(20),
        }
    }
}

/// Why a call is not tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `max_attempts` were made.
    Attempts,
    /// The next attempt would start past `max_elapsed`. `retry_after` is Box's
    /// ask when that ask is what did not fit.
    Budget { retry_after: Option<Duration> },
}

/// The retry state of one call: when it started and how many attempts it made.
#[derive(Debug)]
pub struct Attempts<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    made: u32,
}

impl<'a> Attempts<'a> {
    pub fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            started: Instant::now(),
            made: 0,
        }
    }

    /// Counts a new attempt and returns how long it may run (what is left of
    /// the budget), or `None` when the budget is spent. The first attempt
    /// always gets to run.
    pub fn start(&mut self) -> Option<Duration> {
        let left = self.policy.max_elapsed.saturating_sub(self.elapsed());
        if self.made > 0 && left.is_zero() {
            return None;
        }
        self.made += 1;
        Some(left)
    }

    /// Attempts made so far.
    pub fn made(&self) -> u32 {
        self.made
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// After a transient failure of the attempt just made: how long to wait
    /// before the next one, or why there is none.
    pub fn next_wait(&self, retry_after: Option<Duration>) -> Result<Duration, GiveUp> {
        if self.made >= self.policy.max_attempts {
            return Err(GiveUp::Attempts);
        }
        let backoff = jitter(self.backoff());
        let wait = backoff.max(retry_after.unwrap_or_default());
        if self.elapsed() + wait >= self.policy.max_elapsed {
            return Err(GiveUp::Budget {
                retry_after: retry_after.filter(|asked| *asked >= backoff),
            });
        }
        Ok(wait)
    }

    /// The backoff after the attempt just made, before jitter.
    fn backoff(&self) -> Duration {
        let doublings = self.made.saturating_sub(1).min(31);
        self.policy
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.policy.max_delay)
    }
}

/// A transient answer, worth another attempt: rate limited, or a server error
/// that may pass (not 501 or 505, which will not).
pub fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds, as Box sends it. An HTTP-date is not read: the
/// normal backoff applies then.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Jitter in the upper half, `[d/2, d]`: callers that failed together spread
/// out, and none waits less than half the backoff.
fn jitter(d: Duration) -> Duration {
    use rand::Rng;
    let half = d / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn policy(max_attempts: u32, max_elapsed_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            max_elapsed: Duration::from_millis(max_elapsed_ms),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = policy(10, 60_000);
        let mut attempts = Attempts::new(&policy);
        for nominal in [100, 200, 350, 350] {
            attempts.start().unwrap();
            let wait = attempts.next_wait(None).unwrap();
            assert!(
                wait >= Duration::from_millis(nominal / 2)
                    && wait <= Duration::from_millis(nominal),
                "attempt {}: {wait:?} not in [{}, {nominal}] ms",
                attempts.made(),
                nominal / 2
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_longer_retry_after_is_honoured_within_the_budget() {
        let policy = policy(4, 20_000);
        let mut attempts = Attempts::new(&policy);
        attempts.start().unwrap();
        let asked = Duration::from_secs(3);
        assert_eq!(attempts.next_wait(Some(asked)), Ok(asked));
        // A shorter ask than the backoff does not shorten the backoff.
        let wait = attempts.next_wait(Some(Duration::ZERO)).unwrap();
        assert!(wait >= Duration::from_millis(50), "{wait:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let policy = policy(3, 60_000);
        let mut attempts = Attempts::new(&policy);
        for _ in 0..2 {
            attempts.start().unwrap();
            assert!(attempts.next_wait(None).is_ok());
        }
        attempts.start().unwrap();
        assert_eq!(attempts.next_wait(None), Err(GiveUp::Attempts));
        assert_eq!(attempts.made(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_past_the_budget_gives_up_and_says_so() {
        let policy = policy(4, 2_000);
        let mut attempts = Attempts::new(&policy);
        attempts.start().unwrap();
        assert_eq!(
            attempts.next_wait(Some(Duration::from_secs(30))),
            Err(GiveUp::Budget {
                retry_after: Some(Duration::from_secs(30))
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn elapsed_time_is_bounded() {
        let policy = policy(10, 1_000);
        let mut attempts = Attempts::new(&policy);
        assert_eq!(attempts.start(), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_millis(950)).await;
        // 50 ms left, the backoff is at least 50 ms: no room for another attempt.
        assert_eq!(
            attempts.next_wait(None),
            Err(GiveUp::Budget { retry_after: None })
        );
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(attempts.start(), None, "no attempt starts past the budget");
    }

    #[tokio::test(start_paused = true)]
    async fn each_attempt_gets_what_is_left_of_the_budget() {
        let policy = policy(10, 1_000);
        let mut attempts = Attempts::new(&policy);
        attempts.start().unwrap();
        tokio::time::advance(Duration::from_millis(300)).await;
        assert_eq!(attempts.start(), Some(Duration::from_millis(700)));
    }

    #[test]
    fn only_transient_statuses_are_retried() {
        for status in [429, 500, 502, 503, 504] {
            assert!(
                is_transient(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
        for status in [200, 202, 400, 401, 403, 404, 409, 501, 505] {
            assert!(
                !is_transient(StatusCode::from_u16(status).unwrap()),
                "{status}"
            );
        }
    }

    #[test]
    fn retry_after_reads_seconds_only() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        for other in ["Wed, 21 Oct 2015 07:28:00 GMT", "-1", "1.5", ""] {
            h.insert(RETRY_AFTER, HeaderValue::from_static(other));
            assert_eq!(retry_after(&h), None, "{other:?}");
        }
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(200));
            assert!(j >= Duration::from_millis(100) && j <= Duration::from_millis(200));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
