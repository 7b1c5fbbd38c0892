//! `[policy]`: where the tool policy comes from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::setting::InvalidSetting;

/// `[policy]`: which tools a caller may use, from a Casbin model and policy
/// ([`crate::authz`]). Relative paths are relative to the working directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The Casbin model (request, policy, role and effect definitions, matcher).
    pub model: PathBuf,
    /// The policy lines (`p, subject, tool, action, allow|deny` and `g, member, role`).
    pub policy: PathBuf,
    /// Reload both files when they change (and on SIGHUP); a broken edit keeps the
    /// last good policy.
    pub watch: bool,
    /// Decisions kept per (caller's policy subjects, tool, action); 0 disables the cache.
    pub decision_cache_capacity: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            model: PathBuf::from("policies/model.conf"),
            policy: PathBuf::from("policies/policy.csv"),
            watch: true,
            decision_cache_capacity: 10_000,
        }
    }
}

impl PolicyConfig {
    /// Checks the values; the files themselves are read (and checked) when the
    /// policy loads.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.model.as_os_str().is_empty() {
            return Err(InvalidSetting::new("policy.model", "must not be empty"));
        }
        if self.policy.as_os_str().is_empty() {
            return Err(InvalidSetting::new("policy.policy", "must not be empty"));
        }
        Ok(())
    }
}
