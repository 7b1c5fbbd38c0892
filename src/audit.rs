//! The audit trail: one structured event per `tools/call` (allowed, denied by
//! policy, or refused for a missing scope), on its own log target
//! (`box_mcp::audit`), which `[audit] file` can send to a file of its own.
//!
//! Never a token, and never an argument value (values can hold secrets or
//! personal data): only the names of the arguments.

use std::time::Duration;

use crate::auth::Principal;

/// The log target audit events are written to.
pub const TARGET: &str = "box_mcp::audit";

#[derive(Debug)]
pub struct AuditEvent<'a> {
    pub request_id: Option<&'a str>,
    pub subject: &'a str,
    pub username: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub tool: &'a str,
    /// `allow` or `deny` (policy), or `insufficient_scope`.
    pub decision: &'a str,
    /// The policy line that decided, when one did.
    pub rule: Option<&'a str>,
    /// The OAuth scopes the call was checked for.
    pub scopes_checked: &'a [&'a str],
    /// `ok`, `error:<code>`, `denied` or `refused`.
    pub outcome: &'a str,
    pub latency_us: u64,
    pub argument_names: Vec<&'a str>,
}

impl<'a> AuditEvent<'a> {
    pub fn new(principal: &'a Principal, tool: &'a str) -> Self {
        Self {
            request_id: None,
            subject: &principal.subject,
            username: principal.username.as_deref(),
            client_id: principal.client_id.as_deref(),
            tool,
            decision: "allow",
            rule: None,
            scopes_checked: &[],
            outcome: "ok",
            latency_us: 0,
            argument_names: Vec::new(),
        }
    }

    pub fn latency(mut self, elapsed: Duration) -> Self {
        self.latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self
    }

    /// Writes the event as one log line on the audit target.
    pub fn emit(&self) {
        tracing::info!(
            target: TARGET,
            request_id = self.request_id,
            subject = self.subject,
            username = self.username,
            client_id = self.client_id,
            tool = self.tool,
            decision = self.decision,
            rule = self.rule,
            scopes_checked = ?self.scopes_checked,
            outcome = self.outcome,
            latency_us = self.latency_us,
            argument_names = ?self.argument_names,
            "tool call"
        );
    }
}
