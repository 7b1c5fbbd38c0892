//! Box test harness: a `box-sandbox` (in this process) and the real `box-mcp`
//! binary configured for it, plus helpers to call Box tools as a given user and to
//! read the sandbox's request log.
//!
//! Each test builds its own sandbox, issuer and server, so tests run in parallel.

use std::{
    collections::BTreeSet,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use box_sandbox::{
    LogEntry, Sandbox, SandboxConfig, fixture,
    tokens::{Restriction, TokenKind},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Mode, ServerProcess, TestIssuer, TestKey};

/// The JWT app's configuration file (test-only key material).
pub const JWT_CONFIG_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/sandbox/fixtures/jwt-app-config.json"
);

/// The longest a single tool call may take in these tests.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(40);

/// `box.mode` and the parent-token shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxMode {
    Service,
    /// Per-user with user tokens (`per_user_token = "user_token"`).
    PerUser,
    /// Per-user through the service account with `As-User`.
    PerUserAsUser,
}

/// `box.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoxAuth {
    Ccg,
    Jwt,
}

impl BoxMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Service => "service",
            Self::PerUser => "per_user",
            Self::PerUserAsUser => "per_user/as_user",
        }
    }
}

impl BoxAuth {
    pub fn name(self) -> &'static str {
        match self {
            Self::Ccg => "ccg",
            Self::Jwt => "jwt",
        }
    }
}

/// The `BOX_MCP_BOX__*` settings that point box-mcp at `sandbox`.
pub fn box_settings(sandbox: &Sandbox, mode: BoxMode, auth: BoxAuth) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        (
            "BOX_MCP_BOX__MODE".into(),
            match mode {
                BoxMode::Service => "service",
                BoxMode::PerUser | BoxMode::PerUserAsUser => "per_user",
            }
            .into(),
        ),
        ("BOX_MCP_BOX__AUTH".into(), auth.name().into()),
        ("BOX_MCP_BOX__API_BASE_URL".into(), sandbox.api_base_url()),
        (
            "BOX_MCP_BOX__UPLOAD_BASE_URL".into(),
            sandbox.upload_base_url(),
        ),
        ("BOX_MCP_BOX__TOKEN_URL".into(), sandbox.token_url()),
        ("BOX_MCP_BOX__REVOKE_URL".into(), sandbox.revoke_url()),
        (
            "BOX_MCP_BOX__ENTERPRISE_ID".into(),
            fixture::ENTERPRISE_ID.into(),
        ),
        (
            "BOX_MCP_BOX__TOKEN_RETRY_INITIAL_BACKOFF".into(),
            "50ms".into(),
        ),
    ];
    match auth {
        BoxAuth::Ccg => {
            env.push((
                "BOX_MCP_BOX__CLIENT_ID".into(),
                fixture::CCG_CLIENT_ID.into(),
            ));
            env.push((
                "BOX_MCP_BOX__CLIENT_SECRET".into(),
                fixture::CCG_CLIENT_SECRET.into(),
            ));
        }
        BoxAuth::Jwt => env.push((
            "BOX_MCP_BOX__JWT_CONFIG_FILE".into(),
            JWT_CONFIG_FILE.into(),
        )),
    }
    if mode == BoxMode::PerUserAsUser {
        env.push(("BOX_MCP_BOX__PER_USER_TOKEN".into(), "as_user".into()));
    }
    env
}

/// A sandbox, a local issuer, and box-mcp configured for both.
pub struct BoxEnv {
    pub sandbox: Sandbox,
    pub key: TestKey,
    pub issuer: TestIssuer,
    pub server: ServerProcess,
    pub mode: BoxMode,
}

impl BoxEnv {
    pub async fn start(mode: BoxMode, auth: BoxAuth) -> Self {
        Self::start_with(mode, auth, &[]).await
    }

    /// With `extra` settings added after (and overriding) the Box ones.
    pub async fn start_with(mode: BoxMode, auth: BoxAuth, extra: &[(&str, &str)]) -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("start box-sandbox");
        let key = TestKey::generate("key-1");
        let issuer = TestIssuer::start(&[&key], Mode::Up).await;
        let settings = box_settings(&sandbox, mode, auth);
        let mut env: Vec<(&str, &str)> = settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        let server = ServerProcess::start(&issuer.url, &env).await;
        server.wait_ready(Duration::from_secs(20)).await;
        Self {
            sandbox,
            key,
            issuer,
            server,
            mode,
        }
    }

    /// An IdP token for `sub` carrying `box_user_id = box_user` (none if `None`),
    /// with the scopes every tool needs (`box:write` for those that change data)
    /// and a role the policy allows every tool.
    pub fn token(&self, sub: &str, box_user: Option<&str>) -> String {
        let mut claims = self.issuer.claims(&self.server.resource, sub);
        claims["scope"] = json!("openid mcp:tools box:write");
        // These tests are about Box's own enforcement; the tool policy lets admins
        // call every tool (the policy has tests of its own).
        claims["realm_access"]["roles"] = json!(["mcp-admin"]);
        match box_user {
            Some(id) => claims["box_user_id"] = json!(id),
            None => {
                claims.as_object_mut().unwrap().remove("box_user_id");
            }
        }
        self.key.sign(&claims)
    }

    /// A signed-in MCP user with a session: `sub` mapped to `box_user`.
    pub async fn user(&self, sub: &str, box_user: Option<&str>) -> McpUser<'_> {
        McpUser::connect(&self.server, self.token(sub, box_user)).await
    }

    /// The seeded users, by name.
    pub async fn alice(&self) -> McpUser<'_> {
        self.user("alice", Some(fixture::ALICE)).await
    }

    pub async fn bob(&self) -> McpUser<'_> {
        self.user("bob", Some(fixture::BOB)).await
    }

    pub async fn carol(&self) -> McpUser<'_> {
        self.user("carol", Some(fixture::CAROL)).await
    }

    pub async fn dave(&self) -> McpUser<'_> {
        self.user("dave", Some(fixture::DAVE)).await
    }

    /// Stops box-mcp; fails the test if it logged a panic.
    pub async fn stop(self) -> Vec<String> {
        let logs = self.server.stop().await;
        assert_no_panic(&logs);
        logs
    }
}

pub fn assert_no_panic(logs: &[String]) {
    let panics: Vec<&String> = logs.iter().filter(|l| l.contains("panicked")).collect();
    assert!(panics.is_empty(), "box-mcp panicked: {panics:#?}");
}

/// A caller with an IdP token and an MCP session.
pub struct McpUser<'s> {
    pub server: &'s ServerProcess,
    pub token: String,
    pub session: Option<String>,
}

impl<'s> McpUser<'s> {
    pub async fn connect(server: &'s ServerProcess, token: String) -> Self {
        let session = server.initialize(&token).await;
        Self {
            server,
            token,
            session,
        }
    }

    /// `tools/call`, bounded by [`CALL_TIMEOUT`].
    pub async fn call(&self, tool: &str, arguments: Value) -> ToolReply {
        let params = json!({"name": tool, "arguments": arguments});
        self.call_raw(tool, params).await
    }

    /// `tools/call` with `params` as given (e.g. without `arguments`). Each call
    /// has its own JSON-RPC id, so calls may run concurrently in one session.
    pub async fn call_raw(&self, tool: &str, params: Value) -> ToolReply {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1000);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let started = Instant::now();
        let reply = tokio::time::timeout(
            CALL_TIMEOUT,
            self.server.mcp_raw(
                reqwest::Method::POST,
                Some(&self.token),
                self.session.as_deref(),
                Some(&body),
            ),
        )
        .await
        .unwrap_or_else(|_| panic!("{tool} did not answer within {CALL_TIMEOUT:?}"));
        assert_eq!(
            reply.status,
            reqwest::StatusCode::OK,
            "{tool}: {}",
            reply.body
        );
        ToolReply {
            tool: tool.to_string(),
            rpc: reply.json_rpc(),
            elapsed: started.elapsed(),
        }
    }

    /// A call that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, arguments: Value) -> Value {
        self.call(tool, arguments).await.ok()
    }

    /// The id of a file directly in `folder` (listed with `box_folder_list`).
    pub async fn a_file_in(&self, folder: &str) -> String {
        let listing = self
            .ok("box_folder_list", json!({"folder_id": folder}))
            .await;
        listing["entries"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["type"] == "file"))
            .and_then(|e| e["id"].as_str())
            .unwrap_or_else(|| panic!("a file in folder {folder}: {listing}"))
            .to_string()
    }

    /// A call that must fail with the tool error `code`; returns the reply.
    pub async fn fails(&self, tool: &str, arguments: Value, code: &str) -> ToolReply {
        let reply = self.call(tool, arguments).await;
        reply.assert_error(code);
        reply
    }
}

/// The answer to one `tools/call`.
#[derive(Debug, Clone)]
pub struct ToolReply {
    pub tool: String,
    /// The JSON-RPC message.
    pub rpc: Value,
    pub elapsed: Duration,
}

impl ToolReply {
    pub fn result(&self) -> &Value {
        assert!(
            self.rpc.get("error").is_none(),
            "{}: JSON-RPC error instead of a tool result: {}",
            self.tool,
            self.rpc
        );
        &self.rpc["result"]
    }

    pub fn is_error(&self) -> bool {
        self.result()["isError"] == json!(true)
    }

    pub fn structured(&self) -> &Value {
        &self.result()["structuredContent"]
    }

    /// The first content block's text (the summary, or the error message).
    pub fn text(&self) -> String {
        self.result()["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts success: structured content and a text summary. Returns the content.
    pub fn ok(&self) -> Value {
        assert!(!self.is_error(), "{} failed: {}", self.tool, self.result());
        let data = self.structured();
        assert!(
            data.is_object(),
            "{}: structuredContent: {}",
            self.tool,
            self.rpc
        );
        assert!(
            !self.text().is_empty(),
            "{}: a text summary: {}",
            self.tool,
            self.rpc
        );
        data.clone()
    }

    /// Asserts a tool error with `code` and a message.
    pub fn assert_error(&self, code: &str) {
        assert!(
            self.is_error(),
            "{} should fail with {code}: {}",
            self.tool,
            self.rpc
        );
        assert_eq!(
            self.structured()["error"],
            code,
            "{}: error code: {}",
            self.tool,
            self.rpc
        );
        let message = self.structured()["message"].as_str().unwrap_or_default();
        assert!(
            !message.is_empty(),
            "{}: error message: {}",
            self.tool,
            self.rpc
        );
        assert_eq!(self.text(), message, "{}: {}", self.tool, self.rpc);
    }
}

/// SHA-256 of a bearer token, hex: how the sandbox fingerprints tokens.
pub fn fingerprint(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Token-endpoint calls in `log`.
pub fn oauth_calls(log: &[LogEntry]) -> Vec<&LogEntry> {
    log.iter()
        .filter(|e| e.path.starts_with("/oauth2/"))
        .collect()
}

/// Box API calls in `log` (everything but the token endpoints).
pub fn api_calls(log: &[LogEntry]) -> Vec<&LogEntry> {
    log.iter()
        .filter(|e| !e.path.starts_with("/oauth2/"))
        .collect()
}

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Successful grants of a parent token (client credentials or JWT assertion).
pub fn parent_grants(log: &[LogEntry]) -> usize {
    log.iter()
        .filter(|e| {
            e.oauth.as_ref().is_some_and(|o| {
                o.endpoint == "token"
                    && o.issued_kind == Some(TokenKind::Parent)
                    && o.grant_type.as_deref() != Some(EXCHANGE)
            })
        })
        .count()
}

/// Downscoping exchanges (successful or not).
pub fn exchanges(log: &[LogEntry]) -> usize {
    log.iter()
        .filter(|e| {
            e.oauth
                .as_ref()
                .is_some_and(|o| o.grant_type.as_deref() == Some(EXCHANGE))
        })
        .count()
}

/// What a tool's token must be restricted to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Not restricted.
    Unrestricted,
    File(String),
    Folder(String),
}

impl Expect {
    pub fn file(id: &str) -> Self {
        Self::File(id.into())
    }

    pub fn folder(id: &str) -> Self {
        Self::Folder(id.into())
    }

    fn matches(&self, r: Option<&Restriction>) -> bool {
        match (self, r) {
            (Self::Unrestricted, None) => true,
            (Self::File(id), Some(r)) => r.kind == "file" && &r.id == id,
            (Self::Folder(id), Some(r)) => r.kind == "folder" && &r.id == id,
            _ => false,
        }
    }
}

/// Asserts what reached the sandbox for one tool call: at least one API call; every
/// API call carried a valid downscoped token with exactly `scopes` and the
/// restriction `resource`, acting for `box_user` (directly or with `As-User`);
/// no call carried a parent token or the IdP token (by fingerprint, also as a
/// subject token, and nowhere in the log as text).
pub fn assert_downscoped(
    log: &[LogEntry],
    tool: &str,
    scopes: &[&str],
    resource: &Expect,
    box_user: &str,
    idp_token: &str,
) {
    let want: BTreeSet<&str> = scopes.iter().copied().collect();
    let api = api_calls(log);
    assert!(!api.is_empty(), "{tool}: no Box API call in {log:#?}");
    assert_no_idp_token(log, idp_token);
    for entry in api {
        if entry.path.starts_with("/_dl/") {
            // A pre-signed download link: must carry no credential at all.
            assert!(entry.token.is_none(), "{tool}: a token on {}", entry.path);
            continue;
        }
        let token = entry
            .token
            .as_ref()
            .unwrap_or_else(|| panic!("{tool}: {} {} without a token", entry.method, entry.path));
        assert!(
            token.valid,
            "{tool}: invalid token on {} {}",
            entry.method, entry.path
        );
        assert_eq!(
            token.kind,
            Some(TokenKind::Downscoped),
            "{tool}: {} {} must use a downscoped token, not {:?}",
            entry.method,
            entry.path,
            token.kind
        );
        let got: BTreeSet<&str> = token.scopes.iter().map(String::as_str).collect();
        assert_eq!(
            got, want,
            "{tool}: scopes of the token on {} {}",
            entry.method, entry.path
        );
        assert!(
            resource.matches(token.restricted_to.as_ref()),
            "{tool}: token on {} {} restricted to {:?}, want {resource:?}",
            entry.method,
            entry.path,
            token.restricted_to
        );
        let acting = token
            .as_user
            .as_deref()
            .or(token.subject.as_deref())
            .unwrap_or_default();
        assert_eq!(
            acting, box_user,
            "{tool}: {} {} acts for the wrong Box user",
            entry.method, entry.path
        );
    }
}

/// The IdP token never reached the sandbox: not as a bearer, not as a subject token,
/// not anywhere in the (serialized) log.
pub fn assert_no_idp_token(log: &[LogEntry], idp_token: &str) {
    let fp = fingerprint(idp_token);
    for entry in log {
        if let Some(t) = &entry.token {
            assert_ne!(t.fingerprint, fp, "the IdP token reached {}", entry.path);
            assert_ne!(t.parent.as_deref(), Some(fp.as_str()));
        }
        if let Some(o) = &entry.oauth {
            assert_ne!(o.subject_token.as_deref(), Some(fp.as_str()));
            assert_ne!(o.revoked_token.as_deref(), Some(fp.as_str()));
        }
    }
    let text = serde_json::to_string(log).unwrap();
    assert!(
        !text.contains(&fp),
        "the IdP token's fingerprint is in the log"
    );
    let signature = idp_token.rsplit('.').next().unwrap_or(idp_token);
    assert!(!text.contains(signature), "the IdP token is in the log");
}

/// No API call (non-`/oauth2/` path) used a parent token.
pub fn assert_no_parent_token_on_api(log: &[LogEntry]) {
    for entry in api_calls(log) {
        if let Some(t) = &entry.token {
            assert_ne!(
                t.kind,
                Some(TokenKind::Parent),
                "{} {} used a parent token",
                entry.method,
                entry.path
            );
        }
    }
}
