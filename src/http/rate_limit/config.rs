//! `[rate_limit]`: token buckets per verified subject, per client address, and
//! for failed token attempts per client address.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::setting::InvalidSetting;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Off: no request is counted or limited (benchmarks' baseline; not for production).
    pub enabled: bool,
    /// Requests per verified subject (user), checked after authentication.
    pub per_subject: Bucket,
    /// Requests per client address to `/mcp`, checked before anything else. Behind
    /// a proxy, set `http.trusted_proxies`, or every user shares the proxy's bucket.
    pub per_client: Bucket,
    /// Refused tokens (invalid, expired, malformed) per client address. Once
    /// spent, that address's requests with a token get 429 before any
    /// verification work, until the bucket refills.
    pub failed_tokens: Bucket,
}

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// Sustained rate; may be below one (0.2 = one every five seconds).
    pub per_second: f64,
    /// Requests allowed at once, from a full bucket.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            // An agent's bursts (a dozen tool calls after one prompt) fit; a runaway loop does not.
            per_subject: Bucket {
                per_second: 20.0,
                burst: 100,
            },
            // Looser: without trusted proxies configured, a NAT or proxy is one address.
            per_client: Bucket {
                per_second: 200.0,
                burst: 400,
            },
            // Signed tokens cannot be guessed; this bounds the verification work a
            // stranger can make us do, and the log lines.
            failed_tokens: Bucket {
                per_second: 1.0,
                burst: 30,
            },
        }
    }
}

impl RateLimitConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (key, bucket) in [
            ("rate_limit.per_subject", &self.per_subject),
            ("rate_limit.per_client", &self.per_client),
            ("rate_limit.failed_tokens", &self.failed_tokens),
        ] {
            bucket.validate(key)?;
        }
        Ok(())
    }
}

impl Bucket {
    fn validate(&self, key: &str) -> Result<(), InvalidSetting> {
        if !(self.per_second.is_finite() && (0.001..=1_000_000.0).contains(&self.per_second)) {
            return Err(InvalidSetting::new(
                format!("{key}.per_second"),
                "must be between 0.001 and 1000000",
            ));
        }
        if self.burst == 0 {
            return Err(InvalidSetting::new(
                format!("{key}.burst"),
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The time between two refills.
    pub fn period(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_buckets_name_their_key() {
        RateLimitConfig::default().validate().unwrap();
        for (per_second, burst, key) in [
            (0.0, 1, "rate_limit.per_subject.per_second"),
            (f64::NAN, 1, "rate_limit.per_subject.per_second"),
            (f64::INFINITY, 1, "rate_limit.per_subject.per_second"),
            (1.0, 0, "rate_limit.per_subject.burst"),
        ] {
            let config = RateLimitConfig {
                per_subject: Bucket { per_second, burst },
                ..RateLimitConfig::default()
            };
            assert_eq!(config.validate().unwrap_err().key, key);
        }
    }

    #[test]
    fn a_rate_below_one_is_a_long_period() {
        let bucket = Bucket {
            per_second: 0.2,
            burst: 1,
        };
        assert_eq!(bucket.period(), Duration::from_secs(5));
    }
}
