//! A log of every call that reached the sandbox, for tests that need to see which
//! credential reached "Box". Tokens appear only as SHA-256 fingerprints; secrets,
//! assertions and raw tokens never appear.

use std::{
    collections::VecDeque,
    sync::{Mutex, PoisonError},
};

use serde::Serialize;

use crate::tokens::{Restriction, SubjectType, TokenKind};

/// Entries kept; older ones are dropped.
const CAPACITY: usize = 10_000;

/// Query parameters never logged verbatim.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "client_secret",
    "code",
    "password",
    "refresh_token",
    "token",
];

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub at: String,
    pub method: String,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    pub status: u16,
    /// The bearer token presented, if any.
    pub token: Option<TokenInfo>,
    /// The `As-User` header, if any.
    pub as_user: Option<String>,
    /// For `/oauth2/token` and `/oauth2/revoke`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuthInfo>,
    /// The id of the injected fault that answered or delayed this call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<u64>,
    /// How long the sandbox took to answer, in microseconds: from the request
    /// reaching its router to the response leaving it (HTTP parsing and the
    /// network not included). The load benchmark subtracts it to find box-mcp's
    /// own share of a tool call.
    pub handled_us: u64,
}

/// What a presented bearer token carries.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// SHA-256 of the token, hex.
    pub fingerprint: String,
    /// Known, unexpired and unrevoked when the call arrived.
    pub valid: bool,
    pub kind: Option<TokenKind>,
    /// The user the token acts for.
    pub subject: Option<String>,
    pub subject_type: Option<SubjectType>,
    pub scopes: Vec<String>,
    pub restricted_to: Option<Restriction>,
    pub client_id: Option<String>,
    /// Fingerprint of the token it was exchanged from.
    pub parent: Option<String>,
    /// The `As-User` header sent with it.
    pub as_user: Option<String>,
}

/// A token-endpoint call, without secrets.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OAuthInfo {
    pub endpoint: &'static str,
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub box_subject_type: Option<String>,
    pub box_subject_id: Option<String>,
    /// Requested scopes.
    pub scope: Option<Vec<String>>,
    pub resource: Option<String>,
    pub box_shared_link: Option<String>,
    /// Fingerprint of the exchanged `subject_token`.
    pub subject_token: Option<String>,
    /// Fingerprint of the token given to `/oauth2/revoke`.
    pub revoked_token: Option<String>,
    /// Fingerprint of the refresh token presented (`grant_type=refresh_token`): a
    /// test can tell from the log that no refresh token was used twice.
    pub refresh_token: Option<String>,
    /// Fingerprint of the refresh token issued.
    pub issued_refresh_token: Option<String>,
    /// The Box user a user grant (`authorization_code`, `refresh_token`) is for.
    pub user: Option<String>,
    /// Fingerprint of the token issued.
    pub issued_token: Option<String>,
    pub issued_kind: Option<TokenKind>,
    pub issued_scopes: Option<Vec<String>>,
    pub issued_restricted_to: Option<Restriction>,
    /// The OAuth error answered, if any.
    pub error: Option<String>,
}

/// Marks a response as produced or delayed by an injected fault.
#[derive(Debug, Clone, Copy)]
pub struct FaultApplied(pub u64);

#[derive(Default)]
pub struct RequestLog {
    inner: Mutex<(u64, VecDeque<LogEntry>)>,
}

impl RequestLog {
    pub(crate) fn push(&self, mut entry: LogEntry) {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.0 += 1;
        entry.seq = guard.0;
        if guard.1.len() >= CAPACITY {
            guard.1.pop_front();
        }
        guard.1.push_back(entry);
    }

    /// Entries with `seq` greater than `since`.
    pub fn entries(&self, since: u64) -> Vec<LogEntry> {
        let guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.iter().filter(|e| e.seq > since).cloned().collect()
    }

    pub fn clear(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        guard.1.clear();
    }
}

pub(crate) fn redact_query(query: Option<&str>) -> Option<String> {
    let query = query?;
    let pairs: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if SECRET_PARAMS.contains(&k.as_ref()) {
                "[redacted]".into()
            } else {
                v
            };
            format!("{k}={v}")
        })
        .collect();
    Some(pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_queries_are_redacted() {
        assert_eq!(
            redact_query(Some("fields=name&access_token=abc")).as_deref(),
            Some("fields=name&access_token=[redacted]")
        );
        assert_eq!(redact_query(None), None);
    }
}
