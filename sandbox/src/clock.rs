//! Timestamps in the format Box uses (`2026-01-05T09:00:00+00:00`).

use chrono::{SecondsFormat, Utc};

/// The current time as an RFC 3339 timestamp with a numeric offset.
pub fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, false)
}
