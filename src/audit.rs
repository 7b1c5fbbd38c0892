//! The audit trail: one structured event per decision, on its own log target
//! (`box_mcp::audit`), which `log.audit_file` can send to a file of its own. The
//! `event` field says which decision:
//! - `tool_call`: a `tools/call` allowed, denied by policy, or refused for a scope;
//! - `refused`: a request refused before MCP (authentication, Origin, Host,
//!   session, malformed request), with the reason code;
//! - `tools_listed`: how many tools a `tools/list` showed and hid;
//! - `policy_reload`: the new policy's generation, digest and changed rules, or
//!   the error that kept the last good one;
//! - `box_credential`: a Box token minted for a caller: Box user, scopes, item and
//!   strategy, never the token.
//!
//! Request events carry the client address (the TCP peer, or the client a trusted
//! proxy names). Never a token, and never
//! an argument value (values can hold secrets or personal data): only the names of
//! the arguments.

use std::{net::IpAddr, time::Duration};

use crate::auth::Principal;

/// The log target audit events are written to.
pub const TARGET: &str = "box_mcp::audit";

/// The client address of an HTTP request: the one resolved at the front of the
/// router (through `http.trusted_proxies`), else the TCP peer.
pub fn client_of(extensions: &http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<crate::client_addr::ClientAddr>()
        .map(|addr| addr.0)
        .or_else(|| {
            extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip())
        })
}

/// A `tools/call` decision.
#[derive(Debug)]
pub struct AuditEvent<'a> {
    pub request_id: Option<&'a str>,
    pub client: Option<IpAddr>,
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
            client: None,
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
            event = "tool_call",
            request_id = self.request_id,
            client = self.client.map(tracing::field::display),
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

/// Why a request was refused before MCP.
pub struct Refusal<'a> {
    /// The answer's error code.
    pub code: &'a str,
    /// For a refused token, why (never the token).
    pub reason: Option<&'a str>,
    /// What a refused token says its client is (unverified).
    pub claimed_client_id: Option<&'a str>,
}

/// A request refused before it reached MCP.
pub fn refused(
    request_id: Option<&str>,
    client: Option<IpAddr>,
    path: &str,
    status: u16,
    refusal: Refusal<'_>,
) {
    tracing::info!(
        target: TARGET,
        event = "refused",
        request_id,
        client = client.map(tracing::field::display),
        path,
        status,
        decision = refusal.code,
        reason = refusal.reason,
        claimed_client_id = refusal.claimed_client_id,
        "request refused"
    );
}

/// What a `tools/list` showed the caller, and how many tools the policy hid.
pub fn tools_listed(
    request_id: Option<&str>,
    client: Option<IpAddr>,
    caller: &Principal,
    shown: usize,
    hidden: usize,
) {
    tracing::info!(
        target: TARGET,
        event = "tools_listed",
        request_id,
        client = client.map(tracing::field::display),
        subject = caller.subject.as_str(),
        username = caller.username.as_deref(),
        client_id = caller.client_id.as_deref(),
        shown,
        hidden,
        "tools listed"
    );
}

/// A policy reload that took effect.
pub fn policy_reloaded(generation: u64, digest: &str, rules: usize, changed_rules: usize) {
    tracing::info!(
        target: TARGET,
        event = "policy_reload",
        outcome = "ok",
        generation,
        digest,
        rules,
        changed_rules,
        "tool policy reloaded"
    );
}

/// A policy reload that failed: the last good policy stays in force.
pub fn policy_reload_failed(error: &dyn std::fmt::Display) {
    tracing::info!(
        target: TARGET,
        event = "policy_reload",
        outcome = "error",
        error = %error,
        "tool policy reload failed"
    );
}

/// A Box token minted for a caller (never the token itself): the Box user it acts
/// as, or for a linked account the caller's IdP subject.
pub fn box_credential(
    subject: Option<&str>,
    box_user: Option<&str>,
    scopes: &str,
    item: Option<&str>,
    strategy: &str,
) {
    tracing::info!(
        target: TARGET,
        event = "box_credential",
        subject,
        box_user,
        scopes,
        item,
        strategy,
        "Box credential issued"
    );
}
