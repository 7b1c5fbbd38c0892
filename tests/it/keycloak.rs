//! box-mcp against the real, bundled Keycloak (realm `box-mcp` from
//! `keycloak/box-mcp-realm.json`), as `scripts/test.sh` starts it: tokens minted by
//! Keycloak's password grant reach `whoami` with their roles, each realm user sees and
//! may call exactly the tools the shipped policy (`policies/policy.csv`) gives them,
//! and tokens that fail a check (audience, issuer, expiry) are refused, also across a
//! signing-key rotation.
//!
//! `scripts/test.sh` starts Keycloak with the `mcp:tools` scope's audience set to
//! `BOX_MCP_TEST_RESOURCE_URL` (`http://127.0.0.1:$BOX_MCP_TEST_MCP_PORT/mcp`). Each
//! test runs its own box-mcp on a random port with `public_base_url` set to that URL's
//! origin, so the canonical resource URL, and thus the audience, matches Keycloak's
//! tokens.
//!
//! Tests run in parallel against one Keycloak. The ones that change the realm's
//! signing keys (rotation, the shared key of the second-realm test) take
//! [`REALM_KEYS`] exclusively; every other test holds it shared, so none of them sees
//! a key change half-way.

use std::{
    collections::BTreeSet,
    future::Future,
    panic::AssertUnwindSafe,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use box_mcp::{
    authz::Action,
    mcp::tools::{BoxTool, catalog},
};
use futures::FutureExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock};

use crate::common::{self, Reply, ServerProcess};

pub(crate) const REALM: &str = "box-mcp";
pub(crate) const TEST_CLIENT: &str = "box-mcp-test-direct-grant";
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Held exclusively by tests that change `box-mcp`'s signing keys, shared by the rest.
pub(crate) static REALM_KEYS: RwLock<()> = RwLock::const_new(());

// ---------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------

/// Where Keycloak is and which MCP URL its `mcp:tools` scope puts into `aud`.
pub(crate) struct KeycloakEnv {
    /// e.g. `http://127.0.0.1:41234`
    pub(crate) base: String,
    /// `http://127.0.0.1:$P/mcp`
    pub(crate) resource: String,
    /// `http://127.0.0.1:$P`
    pub(crate) public_base: String,
}

impl KeycloakEnv {
    pub(crate) fn get() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| {
                    panic!("{name} is not set: run through scripts/test.sh, which starts Keycloak")
                })
        };
        let base = var("BOX_MCP_TEST_KEYCLOAK_URL")
            .trim_end_matches('/')
            .to_string();
        let port = var("BOX_MCP_TEST_MCP_PORT");
        let resource = var("BOX_MCP_TEST_RESOURCE_URL");
        let public_base = resource
            .strip_suffix("/mcp")
            .unwrap_or_else(|| panic!("BOX_MCP_TEST_RESOURCE_URL must end in /mcp: {resource}"))
            .to_string();
        assert_eq!(
            public_base,
            format!("http://127.0.0.1:{port}"),
            "BOX_MCP_TEST_RESOURCE_URL and BOX_MCP_TEST_MCP_PORT disagree"
        );
        Self {
            base,
            resource,
            public_base,
        }
    }

    pub(crate) fn issuer(&self, realm: &str) -> String {
        format!("{}/realms/{realm}", self.base)
    }

    /// A box-mcp trusting realm `box-mcp`, whose canonical URL is Keycloak's MCP
    /// audience, with the shipped tool policy and `extra` settings. Waits until it has
    /// loaded Keycloak's keys.
    pub(crate) async fn server(&self, extra: &[(&str, &str)]) -> ServerProcess {
        let mut env = vec![("BOX_MCP_PUBLIC_BASE_URL", self.public_base.as_str())];
        env.extend_from_slice(&shipped_policy());
        env.extend_from_slice(extra);
        let server = ServerProcess::start(&self.issuer(REALM), &env).await;
        server.wait_ready(Duration::from_secs(30)).await;
        server
    }
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------

/// A password grant at `client` in `realm`: the token endpoint's whole answer,
/// which must be 200. `dpop` is a proof for the token endpoint, for clients that
/// bind their tokens.
pub(crate) struct PasswordGrant<'a> {
    pub realm: &'a str,
    pub client: &'a str,
    pub user: &'a str,
    pub password: &'a str,
    pub scope: &'a str,
    pub dpop: Option<String>,
}

impl PasswordGrant<'_> {
    pub(crate) async fn send(&self, kc: &KeycloakEnv) -> Value {
        let mut request = http()
            .post(self.token_url(kc))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(proof) = &self.dpop {
            request = request.header("dpop", proof);
        }
        let response = request
            .body(form(&[
                ("grant_type", "password"),
                ("client_id", self.client),
                ("username", self.user),
                ("password", self.password),
                ("scope", self.scope),
            ]))
            .send()
            .await
            .expect("token request to Keycloak");
        let status = response.status();
        let body: Value = response.json().await.expect("token response is JSON");
        assert_eq!(
            status,
            StatusCode::OK,
            "password grant for {} at {}/{}: {body}",
            self.user,
            self.realm,
            self.client
        );
        body
    }

    pub(crate) fn token_url(&self, kc: &KeycloakEnv) -> String {
        format!("{}/protocol/openid-connect/token", kc.issuer(self.realm))
    }
}

/// An access token from the password grant at `client` in `realm`.
async fn password_token(
    kc: &KeycloakEnv,
    realm: &str,
    client: &str,
    user: &str,
    password: &str,
    scope: &str,
) -> String {
    let body = PasswordGrant {
        realm,
        client,
        user,
        password,
        scope,
        dpop: None,
    }
    .send(kc)
    .await;
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// A realm user's token for the MCP server (`openid mcp:tools` at the test client).
pub(crate) async fn mcp_token(kc: &KeycloakEnv, user: &str) -> String {
    password_token(
        kc,
        REALM,
        TEST_CLIENT,
        user,
        &format!("{user}-password"),
        "openid mcp:tools",
    )
    .await
}

/// A token that may also call the tools that change data (`box:write`).
async fn mcp_write_token(kc: &KeycloakEnv, user: &str) -> String {
    password_token(
        kc,
        REALM,
        TEST_CLIENT,
        user,
        &format!("{user}-password"),
        "openid mcp:tools box:write",
    )
    .await
}

fn segment(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("a JWT");
    serde_json::from_slice(&B64.decode(part).expect("base64url")).expect("JSON")
}

pub(crate) fn claims(token: &str) -> Value {
    segment(token, 1)
}

fn kid(token: &str) -> String {
    segment(token, 0)["kid"]
        .as_str()
        .expect("Keycloak puts a kid into every token")
        .to_string()
}

pub(crate) fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks a 401 `invalid_token` and returns its `error_description`.
fn invalid_token_description(reply: &Reply, kc: &KeycloakEnv) -> String {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let challenge = reply.www_authenticate();
    assert!(
        challenge.starts_with(r#"Bearer error="invalid_token", error_description=""#),
        "{challenge}"
    );
    assert!(
        challenge.contains(&format!(
            r#"resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            kc.public_base
        )),
        "the challenge points at the public URL's metadata: {challenge}"
    );
    assert_eq!(reply.json()["error"], "invalid_token", "{}", reply.body);
    challenge
        .split(r#"error_description=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

/// `initialize` with `token`, which must be refused with 401 `invalid_token`;
/// returns the description.
pub(crate) async fn refused(server: &ServerProcess, kc: &KeycloakEnv, token: &str) -> String {
    let reply = server
        .mcp_raw(
            Method::POST,
            Some(token),
            None,
            Some(&common::server::initialize_request()),
        )
        .await;
    invalid_token_description(&reply, kc)
}

// ---------------------------------------------------------------------------------
// Admin REST API
// ---------------------------------------------------------------------------------

/// The master realm's admin (admin/admin through `admin-cli`).
pub(crate) struct Admin {
    base: String,
    http: reqwest::Client,
    /// Master-realm access tokens live 60 s; one is reused for 30 s.
    token: Mutex<Option<(String, Instant)>>,
}

impl Admin {
    pub(crate) fn new(kc: &KeycloakEnv) -> Self {
        Self {
            base: kc.base.clone(),
            http: http(),
            token: Mutex::new(None),
        }
    }

    async fn token(&self) -> String {
        let mut cached = self.token.lock().await;
        if let Some((token, at)) = cached.as_ref()
            && at.elapsed() < Duration::from_secs(30)
        {
            return token.clone();
        }
        let user = std::env::var("KC_BOOTSTRAP_ADMIN_USERNAME").unwrap_or_else(|_| "admin".into());
        let password =
            std::env::var("KC_BOOTSTRAP_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".into());
        let response = self
            .http
            .post(format!(
                "{}/realms/master/protocol/openid-connect/token",
                self.base
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("grant_type", "password"),
                ("client_id", "admin-cli"),
                ("username", &user),
                ("password", &password),
            ]))
            .send()
            .await
            .expect("admin token request");
        let status = response.status();
        let body: Value = response.json().await.expect("admin token JSON");
        assert_eq!(status, StatusCode::OK, "master-realm admin login: {body}");
        let token = body["access_token"].as_str().unwrap().to_string();
        *cached = Some((token.clone(), Instant::now()));
        token
    }

    /// A request to `/admin/realms/<path>`; returns status, `Location` and body.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/admin/realms{path}", self.base))
            .bearer_auth(self.token().await);
        if let Some(b) = body {
            req = req.json(b);
        }
        let response = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, location, value)
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, _, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// POST that creates something; returns the new id (the `Location`'s last segment).
    async fn create(&self, path: &str, body: &Value) -> String {
        let (status, location, reply) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {reply}");
        location
            .expect("Location of the created object")
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// DELETE for cleanup: reports, never panics (it runs after a failure too).
    pub(crate) async fn delete(&self, path: &str) {
        let (status, _, body) = self.call(Method::DELETE, path, None).await;
        if !status.is_success() {
            eprintln!("cleanup: DELETE {path} answered {status}: {body}");
        }
    }

    /// A realm's internal id. A component's `parentId` must be this: with the realm's
    /// name Keycloak answers 201 and silently creates an orphan that never loads.
    async fn realm_id(&self, realm: &str) -> String {
        self.get(&format!("/{realm}")).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The kid Keycloak signs RS256 tokens with right now.
    async fn active_rs256_kid(&self, realm: &str) -> String {
        self.get(&format!("/{realm}/keys")).await["active"]["RS256"]
            .as_str()
            .expect("an active RS256 key")
            .to_string()
    }

    /// The kid of the key that the key provider component `component` holds.
    async fn kid_of_component(&self, realm: &str, component: &str) -> String {
        let keys = self.get(&format!("/{realm}/keys")).await;
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["providerId"] == component)
            .and_then(|k| k["kid"].as_str())
            .unwrap_or_else(|| panic!("no key of component {component} in {keys}"))
            .to_string()
    }

    /// A public direct-grant client in realm `box-mcp` shaped like the test client
    /// (full scope off, the realm's default scopes, `mcp:tools` optional), with
    /// `attributes` and `protocol_mappers`. Returns its internal id.
    ///
    /// The default scopes must be listed: a client created through the admin API
    /// with `optionalClientScopes` but no `defaultClientScopes` gets no default
    /// scope at all, and its tokens have no `sub`.
    async fn create_test_client(
        &self,
        client_id: &str,
        attributes: Value,
        protocol_mappers: Value,
    ) -> String {
        self.create(
            &format!("/{REALM}/clients"),
            &json!({
                "clientId": client_id,
                "name": "TEST ONLY (tests/it/keycloak.rs, deleted after the test)",
                "enabled": true,
                "protocol": "openid-connect",
                "publicClient": true,
                "standardFlowEnabled": false,
                "directAccessGrantsEnabled": true,
                "fullScopeAllowed": false,
                "attributes": attributes,
                "protocolMappers": protocol_mappers,
                "defaultClientScopes": ["basic", "roles", "profile", "email", "acr", "web-origins", "groups"],
                "optionalClientScopes": ["mcp:tools"],
            }),
        )
        .await
    }
}

/// Runs `body`, then `cleanup` whether or not `body` panicked, then re-raises.
async fn with_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()>,
    C: Future<Output = ()>,
{
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    cleanup.await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

pub(crate) fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A fresh RSA-2048 private key as PKCS#8 PEM, for an imported (`rsa`) key provider.
fn rsa_private_key_pem() -> String {
    use aws_lc_rs::{
        encoding::{AsDer, Pkcs8V1Der},
        rsa::{KeyPair, KeySize},
    };
    let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let der = AsDer::<Pkcs8V1Der>::as_der(&pair).expect("PKCS#8");
    common::issuer::pem("PRIVATE KEY", der.as_ref())
}

// ---------------------------------------------------------------------------------
// Tool policy (policies/policy.csv as shipped)
// ---------------------------------------------------------------------------------

/// The realm's test users, each with what the shipped policy gives them.
const REALM_USERS: [&str; 4] = ["alice", "bob", "carol", "dave"];

/// Whether the shipped `policies/policy.csv` lets a realm user use `tool`, written out
/// from the policy's rules and the realm's roles (keycloak/README.md), not from the
/// policy engine: alice is `mcp-admin` (every tool), bob `mcp-editor` (read and write,
/// no delete) except `box_shared_link_set`, carol `mcp-viewer` (read) plus
/// `box_metadata_set`, dave has no MCP role (nothing, not even `whoami`).
fn shipped_policy_allows(user: &str, tool: &BoxTool) -> bool {
    let by_role = match user {
        "alice" => true,
        "bob" => matches!(tool.action, Action::Read | Action::Write),
        "carol" => matches!(tool.action, Action::Read),
        "dave" => false,
        other => panic!("not a realm test user: {other}"),
    };
    match (user, tool.name) {
        ("bob", "box_shared_link_set") => false,
        ("carol", "box_metadata_set") => true,
        _ => by_role,
    }
}

/// The catalog's tools `user` may use under the shipped policy.
fn tools_of(user: &str) -> BTreeSet<&'static str> {
    catalog::ALL
        .iter()
        .filter(|tool| shipped_policy_allows(user, tool))
        .map(|tool| tool.name)
        .collect()
}

/// The shipped policy files, by absolute path (not the server's working directory).
pub(crate) fn shipped_policy() -> [(&'static str, &'static str); 2] {
    [
        (
            "BOX_MCP_POLICY__MODEL",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies/model.conf"),
        ),
        (
            "BOX_MCP_POLICY__POLICY",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policies/policy.csv"),
        ),
    ]
}

/// `tools/list` in `session`: the names, which must come in one page.
pub(crate) async fn listed_tools(
    server: &ServerProcess,
    token: &str,
    session: Option<&str>,
) -> BTreeSet<String> {
    let reply = server.rpc(token, session, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "tools/list: {}", reply.body);
    let result = &reply.json_rpc()["result"];
    assert!(result.get("nextCursor").is_none(), "one page: {result}");
    let names: Vec<String> = result["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list: {result}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(set.len(), names.len(), "no tool listed twice: {names:?}");
    set
}

/// `tools/call` of `tool` with no arguments; every call has JSON-RPC id 7.
async fn call_tool(
    server: &ServerProcess,
    token: &str,
    session: Option<&str>,
    tool: &str,
) -> Reply {
    server
        .rpc(
            token,
            session,
            "tools/call",
            json!({"name": tool, "arguments": {}}),
        )
        .await
}

/// What a client sees of a reply to `tools/call`: status, content type and the
/// JSON-RPC message.
fn on_the_wire(reply: &Reply) -> (StatusCode, Option<String>, Value) {
    let rpc = if reply.status == StatusCode::OK {
        reply.json_rpc()
    } else {
        Value::String(reply.body.clone())
    };
    (reply.status, reply.header("content-type"), rpc)
}

/// The 403 a token without `box:write` gets for a tool that changes data.
pub(crate) fn assert_insufficient_scope(reply: &Reply, kc: &KeycloakEnv, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "{what}: {}",
        reply.body
    );
    assert_eq!(
        reply.www_authenticate(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a scope this request needs", scope="mcp:tools box:write", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            kc.public_base
        ),
        "{what}"
    );
}

/// One realm user's part of
/// `realm_users_see_and_call_exactly_the_tools_the_shipped_policy_gives_them`, in
/// sessions of their own.
async fn assert_tools_of(kc: &KeycloakEnv, server: &ServerProcess, user: &str) {
    let mine = tools_of(user);
    let write = mcp_write_token(kc, user).await;
    let read = mcp_token(kc, user).await;
    assert!(
        claims(&write)["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "box:write"),
        "{user}: {}",
        claims(&write)
    );
    assert!(
        !claims(&read)["scope"]
            .as_str()
            .unwrap()
            .contains("box:write"),
        "{user}: {}",
        claims(&read)
    );
    let write_session = server.initialize(&write).await;
    let read_session = server.initialize(&read).await;

    // tools/list: exactly the policy's tools. Scopes do not hide tools: a
    // client must see a write tool to be able to step up for it.
    for (token, session, what) in [
        (&write, write_session.as_deref(), "with box:write"),
        (&read, read_session.as_deref(), "without box:write"),
    ] {
        let listed = listed_tools(server, token, session).await;
        let want: BTreeSet<String> = mine.iter().map(|t| t.to_string()).collect();
        assert_eq!(listed, want, "{user} ({what}): tools/list");
    }

    // A tool that does not exist, as the reference for every refusal.
    let unknown =
        on_the_wire(&call_tool(server, &write, write_session.as_deref(), "no_such_tool").await);
    assert_eq!(unknown.0, StatusCode::OK, "{user}: {unknown:?}");
    assert_eq!(
        unknown.2,
        json!({
            "jsonrpc": "2.0",
            "id": 7,
            "error": {"code": -32602, "message": "tool not found"}
        }),
        "{user}"
    );
    let unknown_without_write =
        on_the_wire(&call_tool(server, &read, read_session.as_deref(), "no_such_tool").await);
    assert_eq!(unknown_without_write, unknown, "{user}");

    for tool in catalog::ALL {
        let name = tool.name;
        let with_write = call_tool(server, &write, write_session.as_deref(), name).await;
        let without_write = call_tool(server, &read, read_session.as_deref(), name).await;
        if !mine.contains(name) {
            // Forbidden: byte for byte the unknown tool's answer, with or
            // without box:write.
            assert_eq!(
                on_the_wire(&with_write),
                unknown,
                "{user}: forbidden {name} answers like an unknown tool"
            );
            assert_eq!(
                on_the_wire(&without_write),
                unknown,
                "{user}: forbidden {name} without box:write answers like an unknown tool"
            );
            continue;
        }
        // Allowed: the call reaches the tool (a tool result: Box is not
        // configured here, and the arguments are empty).
        assert_eq!(
            with_write.status,
            StatusCode::OK,
            "{user}: {name}: {}",
            with_write.body
        );
        let rpc = with_write.json_rpc();
        assert!(
            rpc.get("error").is_none() && rpc["result"].is_object(),
            "{user}: allowed {name} reaches the tool: {rpc}"
        );
        if tool.action == Action::Read {
            assert_eq!(without_write.status, StatusCode::OK, "{user}: {name}");
            let rpc = without_write.json_rpc();
            assert!(
                rpc.get("error").is_none() && rpc["result"].is_object(),
                "{user}: read tool {name} needs no box:write: {rpc}"
            );
        } else {
            assert_insufficient_scope(&without_write, kc, &format!("{user}: {name}"));
        }
    }
}

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

/// Every test of this file is in this module, so that `scripts/test.sh` can leave them
/// out (`--skip against_real_keycloak::`) of the run where the `BOX_MCP_TEST_*`
/// variables are unset, and run them alone with those variables set. box-mcp reads
/// every `BOX_MCP_*` variable as configuration and refuses unknown ones, so tests that
/// start it with the inherited environment (tests/it/stdio.rs) must not see them.
mod against_real_keycloak {
    use super::*;

    /// What whoami must say for a realm user (see keycloak/README.md).
    struct Expected {
        user: &'static str,
        sub: &'static str,
        mcp_roles: &'static [&'static str],
        groups: &'static [&'static str],
        box_user: &'static str,
    }

    #[tokio::test]
    async fn realm_users_reach_whoami_with_their_roles_and_box_user() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let server = kc.server(&[]).await;

        let users = [
            Expected {
                user: "alice",
                sub: "a1a1a1a1-0000-4000-8000-000000000001",
                mcp_roles: &["mcp-admin", "mcp-editor", "mcp-viewer"],
                groups: &["mcp-admins"],
                box_user: "31000001",
            },
            Expected {
                user: "bob",
                sub: "b0b0b0b0-0000-4000-8000-000000000002",
                mcp_roles: &["mcp-editor", "mcp-viewer"],
                groups: &["mcp-editors"],
                box_user: "31000002",
            },
            Expected {
                user: "carol",
                sub: "ca401000-0000-4000-8000-000000000003",
                mcp_roles: &["mcp-viewer"],
                groups: &["mcp-viewers"],
                box_user: "31000003",
            },
            // No MCP role: Keycloak still issues the token; box-mcp decides, and the
            // shipped policy gives him no tool at all (not even whoami).
            Expected {
                user: "dave",
                sub: "da7e0000-0000-4000-8000-000000000004",
                mcp_roles: &[],
                groups: &[],
                box_user: "31000004",
            },
        ];
        for Expected {
            user,
            sub,
            mcp_roles,
            groups,
            box_user,
        } in users
        {
            let token = mcp_token(&kc, user).await;
            let c = claims(&token);
            assert_eq!(c["iss"], kc.issuer(REALM), "{user}: {c}");
            assert!(
                audiences(&c).contains(&kc.resource),
                "{user}: mcp:tools puts the MCP URL into aud: {c}"
            );

            if mcp_roles.is_empty() {
                // The token is what the realm says; the server lets it in (it is
                // valid) but lists no tool and answers whoami like an unknown tool.
                assert_eq!(c["sub"], sub, "{user}: {c}");
                assert_eq!(c["preferred_username"], user, "{user}: {c}");
                assert_eq!(c["box_user_id"], box_user, "{user}: {c}");
                assert!(c.get("groups").is_none(), "{user}: {c}");
                let roles = c["realm_access"]["roles"].to_string();
                assert!(!roles.contains("mcp-"), "{user}: {c}");
                let session = server.initialize(&token).await;
                let listed = listed_tools(&server, &token, session.as_deref()).await;
                assert!(listed.is_empty(), "{user} sees no tool: {listed:?}");
                let whoami = call_tool(&server, &token, session.as_deref(), "whoami").await;
                let unknown = call_tool(&server, &token, session.as_deref(), "no_such_tool").await;
                assert_eq!(on_the_wire(&whoami), on_the_wire(&unknown), "{user}");
                assert_eq!(
                    whoami.json_rpc()["error"]["message"],
                    "tool not found",
                    "{user}: {}",
                    whoami.body
                );
                continue;
            }

            let me = server.whoami(&token).await;
            assert_eq!(me["issuer"], kc.issuer(REALM), "{user}: {me}");
            assert_eq!(me["subject"], sub, "{user}: {me}");
            assert_eq!(me["username"], user, "{user}: {me}");
            assert_eq!(me["email"], format!("{user}@example.com"), "{user}: {me}");
            assert_eq!(me["client_id"], TEST_CLIENT, "{user}: {me}");
            assert_eq!(me["box_user_id"], box_user, "{user}: {me}");
            assert_eq!(me["groups"], json!(groups), "{user}: {me}");
            let scopes = me["scopes"].as_array().unwrap();
            assert!(scopes.contains(&json!("mcp:tools")), "{user}: {me}");
            // Composite roles arrive expanded. Besides the MCP roles, every user holds
            // `offline_access` (mapped onto mcp:tools so that dave gets a token at all).
            let got: BTreeSet<&str> = me["roles"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .filter(|r| r.starts_with("mcp-"))
                .collect();
            let want: BTreeSet<&str> = mcp_roles.iter().copied().collect();
            assert_eq!(got, want, "{user}: MCP roles in {me}");
            assert!(
                !me.to_string().contains(&token),
                "whoami never returns the token"
            );
        }
        server.stop().await;
    }

    /// Tool-level RBAC with real Keycloak tokens and the shipped policy: each realm
    /// user's `tools/list` is exactly what the policy gives their roles (plus the
    /// bob/carol exceptions), with and without `box:write`; each tool they may not use
    /// answers exactly like a tool that does not exist, also to a token without
    /// `box:write` (the scope gate reveals nothing); each tool they may use reaches
    /// the tool, and a write or delete tool needs `box:write` (403 step-up challenge).
    /// The audit trail tells the two refusals apart.
    #[tokio::test]
    async fn realm_users_see_and_call_exactly_the_tools_the_shipped_policy_gives_them() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let server = kc.server(&[]).await;

        // The expectation is not trivial: every action is in the catalog, and the
        // exceptions change what bob and carol get.
        for action in [Action::Read, Action::Write, Action::Delete] {
            assert!(
                catalog::ALL.iter().any(|t| t.action == action),
                "{action:?}"
            );
        }
        let all: BTreeSet<&str> = catalog::ALL.iter().map(|t| t.name).collect();
        let reads: BTreeSet<&str> = catalog::ALL
            .iter()
            .filter(|t| t.action == Action::Read)
            .map(|t| t.name)
            .collect();
        assert!(reads.contains("whoami"));
        assert_eq!(tools_of("alice"), all);
        assert!(tools_of("bob").is_superset(&reads));
        assert!(!tools_of("bob").contains("box_shared_link_set"));
        assert!(tools_of("bob").contains("box_file_upload"));
        assert!(!tools_of("bob").contains("box_file_delete"));
        assert_eq!(
            tools_of("carol"),
            reads.iter().copied().chain(["box_metadata_set"]).collect()
        );
        assert!(tools_of("dave").is_empty());

        // The users at once, each in their own sessions.
        futures::future::join_all(REALM_USERS.map(|user| assert_tools_of(&kc, &server, user)))
            .await;

        // On the wire the refusals are alike; the audit trail says what happened.
        let logs = server.stop().await;
        let audit: Vec<Value> = logs
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "box_mcp::audit")
            .collect();
        let event = |user: &str, tool: &str| {
            audit
                .iter()
                .find(|e| e["username"] == user && e["tool"] == tool)
                .unwrap_or_else(|| panic!("no audit event for {user} calling {tool}"))
                .clone()
        };
        let denied = event("carol", "box_file_upload");
        assert_eq!(denied["decision"], "deny", "{denied}");
        assert_eq!(denied["outcome"], "denied", "{denied}");
        let unknown = event("carol", "no_such_tool");
        assert_eq!(unknown["decision"], "deny", "{unknown}");
        assert_eq!(unknown["outcome"], "unknown_tool", "{unknown}");
        let exception = event("bob", "box_shared_link_set");
        assert_eq!(exception["outcome"], "denied", "{exception}");
        assert!(
            exception["rule"]
                .as_str()
                .is_some_and(|r| r.contains("user:bob")),
            "the deny names the exception: {exception}"
        );
        let nothing = event("dave", "whoami");
        assert_eq!(nothing["outcome"], "denied", "{nothing}");
        let carol_sets = event("carol", "box_metadata_set");
        assert_eq!(carol_sets["decision"], "allow", "{carol_sets}");
    }

    #[tokio::test]
    async fn token_without_the_mcp_audience_is_refused() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let admin = Admin::new(&kc);
        let server = kc.server(&[]).await;

        // Without mcp:tools Keycloak adds no MCP URL to `aud`; for the test client the
        // token then has no `aud` at all.
        let token =
            password_token(&kc, REALM, TEST_CLIENT, "alice", "alice-password", "openid").await;
        let c = claims(&token);
        assert!(!audiences(&c).contains(&kc.resource), "{c}");
        assert!(
            !c["scope"]
                .as_str()
                .unwrap_or_default()
                .contains("mcp:tools"),
            "{c}"
        );
        let description = refused(&server, &kc, &token).await;
        assert!(
            description.contains("aud"),
            "the description names the audience check: {description}"
        );

        // A token whose `aud` names another resource only.
        let client_id = unique("box-mcp-test-other-audience");
        let other = "http://127.0.0.1:9/other-mcp";
        let id = admin
            .create_test_client(
                &client_id,
                json!({}),
                json!([{
                    "name": "other resource audience",
                    "protocol": "openid-connect",
                    "protocolMapper": "oidc-audience-mapper",
                    "config": {
                        "included.custom.audience": other,
                        "access.token.claim": "true",
                        "id.token.claim": "false",
                        "introspection.token.claim": "true"
                    }
                }]),
            )
            .await;
        with_cleanup(
            async {
                let token =
                    password_token(&kc, REALM, &client_id, "alice", "alice-password", "openid")
                        .await;
                let c = claims(&token);
                assert_eq!(audiences(&c), vec![other.to_string()], "{c}");
                let description = refused(&server, &kc, &token).await;
                assert!(
                    description.contains("audience does not include this resource"),
                    "{description}"
                );
            },
            admin.delete(&format!("/{REALM}/clients/{id}")),
        )
        .await;
        server.stop().await;
    }

    #[tokio::test]
    async fn token_from_another_realm_is_refused() {
        let kc = KeycloakEnv::get();
        let _exclusive = REALM_KEYS.write().await;
        let admin = Admin::new(&kc);

        // A second realm on the same Keycloak, with a user, a direct-grant client and an
        // `mcp:tools` scope adding the same MCP URL: its tokens differ in `iss`.
        let other = unique("box-mcp-other");
        admin
            .create(
                "",
                &json!({
                    "realm": other,
                    "enabled": true,
                    "sslRequired": "none",
                    "users": [{
                        "username": "eve",
                        "enabled": true,
                        "email": "eve@example.com",
                        "emailVerified": true,
                        "firstName": "Eve",
                        "lastName": "Elsewhere",
                        "credentials": [{"type": "password", "value": "eve-password", "temporary": false}]
                    }]
                }),
            )
            .await;
        // Set once the shared key is in realm box-mcp, for the cleanup.
        let shared_key_component = std::sync::Mutex::new(None::<String>);
        with_cleanup(
            async {
                admin
                    .create(
                        &format!("/{other}/client-scopes"),
                        &json!({
                            "name": "mcp:tools",
                            "protocol": "openid-connect",
                            "attributes": {"include.in.token.scope": "true"},
                            "protocolMappers": [{
                                "name": "mcp audience",
                                "protocol": "openid-connect",
                                "protocolMapper": "oidc-audience-mapper",
                                "config": {
                                    "included.custom.audience": kc.resource,
                                    "access.token.claim": "true",
                                    "id.token.claim": "false"
                                }
                            }]
                        }),
                    )
                    .await;
                admin
                    .create(
                        &format!("/{other}/clients"),
                        &json!({
                            "clientId": "direct-grant",
                            "publicClient": true,
                            "standardFlowEnabled": false,
                            "directAccessGrantsEnabled": true,
                            "defaultClientScopes": ["basic", "roles", "profile", "email"],
                            "optionalClientScopes": ["mcp:tools"]
                        }),
                    )
                    .await;
                let mint = || {
                    password_token(
                        &kc,
                        &other,
                        "direct-grant",
                        "eve",
                        "eve-password",
                        "openid mcp:tools",
                    )
                };

                // 1. As it comes: signed with the other realm's own generated key.
                let own_key_token = mint().await;
                let c = claims(&own_key_token);
                assert_eq!(c["iss"], kc.issuer(&other), "{c}");
                assert!(audiences(&c).contains(&kc.resource), "{c}");
                assert!(c["scope"].as_str().unwrap().contains("mcp:tools"), "{c}");
                assert!(c["sub"].is_string(), "{c}");

                // 2. Only the issuer differs: one imported key signs for the other realm
                //    (highest priority there) and is published by realm box-mcp too (lowest
                //    priority: published, never used to sign). The signature then verifies
                //    with a key from the configured issuer's JWKS; `iss` alone is wrong.
                let pem = rsa_private_key_pem();
                let key_component = |realm_id: String, priority: &str| {
                    json!({
                        "name": unique("shared-test-key"),
                        "providerId": "rsa",
                        "providerType": "org.keycloak.keys.KeyProvider",
                        "parentId": realm_id,
                        "config": {
                            "priority": [priority],
                            "enabled": ["true"],
                            "active": ["true"],
                            "algorithm": ["RS256"],
                            "privateKey": [pem.clone()]
                        }
                    })
                };
                let other_id = admin.realm_id(&other).await;
                let in_other = admin
                    .create(
                        &format!("/{other}/components"),
                        &key_component(other_id, "1000"),
                    )
                    .await;
                let box_id = admin.realm_id(REALM).await;
                let in_box = admin
                    .create(&format!("/{REALM}/components"), &key_component(box_id, "1"))
                    .await;
                *shared_key_component.lock().unwrap() = Some(in_box.clone());
                let shared_kid = admin.kid_of_component(&other, &in_other).await;
                assert_eq!(
                    admin.kid_of_component(REALM, &in_box).await,
                    shared_kid,
                    "Keycloak derives the kid from the public key"
                );
                assert_ne!(
                    admin.active_rs256_kid(REALM).await,
                    shared_kid,
                    "box-mcp's realm keeps signing with its own key"
                );
                assert_eq!(admin.active_rs256_kid(&other).await, shared_kid);
                let shared_key_token = mint().await;
                assert_eq!(kid(&shared_key_token), shared_kid);
                assert_eq!(claims(&shared_key_token)["iss"], kc.issuer(&other));

                // Started now, the server loads realm box-mcp's JWKS with the shared key.
                let server = kc.server(&[]).await;
                let description = refused(&server, &kc, &own_key_token).await;
                assert!(
                    description.contains("signing key"),
                    "another realm's own key is not box-mcp's: {description}"
                );
                let description = refused(&server, &kc, &shared_key_token).await;
                assert!(
                    description.contains("issued by another issuer"),
                    "a key box-mcp trusts, from the wrong issuer: {description}"
                );
                // A box-mcp realm token still passes on the same server.
                assert_eq!(
                    server.whoami(&mcp_token(&kc, "carol").await).await["username"],
                    "carol"
                );
                server.stop().await;
            },
            async {
                let id = shared_key_component.lock().unwrap().take();
                if let Some(id) = id {
                    admin.delete(&format!("/{REALM}/components/{id}")).await;
                }
                admin.delete(&format!("/{other}")).await;
            },
        )
        .await;
    }

    #[tokio::test]
    async fn rotated_signing_key_is_accepted_without_restart() {
        let kc = KeycloakEnv::get();
        let _exclusive = REALM_KEYS.write().await;
        let admin = Admin::new(&kc);
        let server = kc
            .server(&[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "1s")])
            .await;

        let before = mcp_token(&kc, "alice").await;
        let old_kid = kid(&before);
        assert_eq!(admin.active_rs256_kid(REALM).await, old_kid);
        assert_eq!(server.whoami(&before).await["username"], "alice");

        // A new generated RSA key with a priority above every existing key provider
        // becomes the active signing key. The old provider stays (published, no longer
        // signing), as in a real rotation.
        let providers = admin
            .get(&format!(
                "/{REALM}/components?type=org.keycloak.keys.KeyProvider"
            ))
            .await;
        let top = providers
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["config"]["priority"][0].as_str()?.parse::<i64>().ok())
            .max()
            .unwrap_or(100);
        let priority = (top + 100).to_string();
        let realm_id = admin.realm_id(REALM).await;
        let component = admin
            .create(
                &format!("/{REALM}/components"),
                &json!({
                    "name": unique("rotation-test"),
                    "providerId": "rsa-generated",
                    "providerType": "org.keycloak.keys.KeyProvider",
                    "parentId": realm_id,
                    "config": {
                        "priority": [priority],
                        "enabled": ["true"],
                        "active": ["true"],
                        "keySize": ["2048"],
                        "algorithm": ["RS256"]
                    }
                }),
            )
            .await;
        with_cleanup(
            async {
                let new_kid = admin.kid_of_component(REALM, &component).await;
                assert_ne!(new_kid, old_kid);
                assert_eq!(
                    admin.active_rs256_kid(REALM).await,
                    new_kid,
                    "the higher-priority key signs now"
                );
                let after = mcp_token(&kc, "alice").await;
                assert_eq!(kid(&after), new_kid, "Keycloak signs with the new key");

                // The running server has not seen this kid yet: the first request that
                // carries it makes the server refresh the issuer's keys (once), and passes.
                let reply = server
                    .mcp_raw(
                        Method::POST,
                        Some(&after),
                        None,
                        Some(&common::server::initialize_request()),
                    )
                    .await;
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "the first token with the rotated key is accepted: {}",
                    reply.body
                );
                assert_eq!(
                    server
                        .logs()
                        .iter()
                        .filter(|l| l.contains("unknown key id; refreshing"))
                        .count(),
                    1,
                    "exactly one on-demand refresh"
                );

                let me = server.whoami(&after).await;
                assert_eq!(me["username"], "alice", "{me}");
                assert_eq!(me["subject"], "a1a1a1a1-0000-4000-8000-000000000001");
                assert!(
                    me["roles"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("mcp-admin"))
                );
                // Tokens signed before the rotation stay valid while the old key is published.
                assert_eq!(server.whoami(&before).await["username"], "alice");
            },
            admin.delete(&format!("/{REALM}/components/{component}")),
        )
        .await;
        // With the rotation undone, the original key signs again.
        assert_eq!(admin.active_rs256_kid(REALM).await, old_kid);
        server.stop().await;
    }

    #[tokio::test]
    async fn expired_keycloak_token_is_refused() {
        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        let admin = Admin::new(&kc);
        // The same Keycloak token, judged with no clock leeway and with the default 30 s.
        let strict = kc.server(&[("BOX_MCP_AUTH__LEEWAY", "0s")]).await;
        let lenient = kc.server(&[]).await;

        let client_id = unique("box-mcp-test-short-lived");
        let id = admin
            .create_test_client(&client_id, json!({"access.token.lifespan": "2"}), json!([]))
            .await;
        with_cleanup(
            async {
                let token = password_token(
                    &kc,
                    REALM,
                    &client_id,
                    "bob",
                    "bob-password",
                    "openid mcp:tools",
                )
                .await;
                let c = claims(&token);
                let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
                assert_eq!(exp - iat, 2, "the client's lifespan applies: {c}");
                assert!(audiences(&c).contains(&kc.resource), "{c}");
                assert_eq!(c["iss"], kc.issuer(REALM));

                // Past `exp` (whole seconds; leeway 0 refuses once now > exp).
                let deadline = Instant::now() + Duration::from_secs(10);
                while unix_now() <= exp + 1 {
                    assert!(Instant::now() < deadline, "clock did not pass exp");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                let description = refused(&strict, &kc, &token).await;
                assert!(description.contains("expired"), "{description}");

                // Everything else about the token is fine: inside the default leeway the
                // other server still accepts it.
                assert_eq!(lenient.whoami(&token).await["username"], "bob");
            },
            admin.delete(&format!("/{REALM}/clients/{id}")),
        )
        .await;
        strict.stop().await;
        lenient.stop().await;
    }

    /// Per-user Box access with real Keycloak tokens (the realm's `box_user_id`
    /// attribute is the mapping) and the shipped tool policy against `box-sandbox`:
    /// alice, bob and carol see and change only their own and shared content, bob
    /// cannot read alice's private file, carol's one write tool (her policy
    /// exception) reaches only what Box lets her change, the write tools the policy
    /// refuses her answer like unknown tools without a Box call, and no Box call
    /// carries a Keycloak token or a parent token.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn realm_users_reach_only_their_own_and_shared_box_content() {
        use box_sandbox::{Sandbox, SandboxConfig, fixture};
        use common::box_env::{
            BoxAuth, BoxMode, Expect, McpUser, api_calls, assert_downscoped, assert_no_idp_token,
            assert_no_parent_token_on_api, box_settings,
        };

        let kc = KeycloakEnv::get();
        let _shared = REALM_KEYS.read().await;
        for auth in [BoxAuth::Ccg, BoxAuth::Jwt] {
            let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
            let settings = box_settings(&sandbox, BoxMode::PerUser, auth);
            let extra: Vec<(&str, &str)> = settings
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let server = kc.server(&extra).await;
            let alice = McpUser::connect(&server, mcp_write_token(&kc, "alice").await).await;
            let bob = McpUser::connect(&server, mcp_write_token(&kc, "bob").await).await;
            let carol = McpUser::connect(&server, mcp_write_token(&kc, "carol").await).await;
            let who = auth.name();
            sandbox.clear_requests();

            // Each acts as their own Box user.
            for (user, id) in [
                (&alice, fixture::ALICE),
                (&bob, fixture::BOB),
                (&carol, fixture::CAROL),
            ] {
                assert_eq!(user.ok("box_whoami", json!({})).await["id"], id, "{who}");
            }

            // Alice's private file: hers; bob and carol get not_found.
            let notes = fixture::ALICE_NOTES_FILE;
            sandbox.clear_requests();
            let text = alice
                .ok("box_file_read_text", json!({"file_id": notes}))
                .await;
            assert!(
                text["text"].as_str().unwrap().contains("launch date"),
                "{who}: {text}"
            );
            assert_downscoped(
                &sandbox.requests(),
                "box_file_read_text",
                &["item_download", "item_preview"],
                &Expect::file(notes),
                fixture::ALICE,
                &alice.token,
            );
            for other in [&bob, &carol] {
                other
                    .fails("box_file_get", json!({"file_id": notes}), "not_found")
                    .await;
                other
                    .fails("box_file_read_text", json!({"file_id": notes}), "not_found")
                    .await;
            }

            // Own content. bob (editor) writes in his folder; carol cannot see it.
            let own = bob
                .ok(
                    "box_file_upload",
                    json!({"parent_folder_id": fixture::BOB_PRIVATE_FOLDER, "name": "bob-kc-private.txt", "content_text": "bob only"}),
                )
                .await;
            let own_id = own["id"].as_str().unwrap().to_string();
            carol
                .fails("box_file_get", json!({"file_id": own_id}), "not_found")
                .await;
            carol
                .fails(
                    "box_file_read_text",
                    json!({"file_id": own_id}),
                    "not_found",
                )
                .await;
            // carol (viewer) reads her own files; bob cannot.
            let carol_file = carol.a_file_in(fixture::CAROL_PRIVATE_FOLDER).await;
            carol
                .ok("box_file_read_text", json!({"file_id": carol_file}))
                .await;
            bob.fails("box_file_get", json!({"file_id": carol_file}), "not_found")
                .await;

            // carol's one write (the policy's exception: box_metadata_set) still only
            // reaches what Box lets her change: her own file, not alice's private file.
            let tagged = carol
                .ok(
                    "box_metadata_set",
                    json!({"file_id": carol_file, "template_key": fixture::METADATA_TEMPLATE, "values": {"projectName": "carol-kc"}}),
                )
                .await;
            assert_eq!(tagged["projectName"], "carol-kc", "{who}: {tagged}");
            carol
                .fails(
                    "box_metadata_set",
                    json!({"file_id": notes, "template_key": fixture::METADATA_TEMPLATE, "values": {"projectName": "x"}}),
                    "not_found",
                )
                .await;

            // Shared content: bob (editor) adds to Team Projects, carol (viewer) reads
            // it. She cannot add or rename there: the policy refuses before Box is
            // asked, with the answer for a tool that does not exist.
            let team = fixture::TEAM_PROJECTS_FOLDER;
            let shared = bob
                .ok(
                    "box_file_upload",
                    json!({"parent_folder_id": team, "name": "bob-kc.txt", "content_text": "for the team"}),
                )
                .await;
            let shared_id = shared["id"].as_str().unwrap().to_string();
            let read = carol
                .ok("box_file_read_text", json!({"file_id": shared_id}))
                .await;
            assert_eq!(read["text"], "for the team", "{who}");
            let unknown = carol.call("no_such_tool", json!({})).await.rpc["error"].clone();
            assert_eq!(unknown["message"], "tool not found", "{who}: {unknown}");
            let box_calls = sandbox.requests().len();
            for (tool, arguments) in [
                (
                    "box_file_upload",
                    json!({"parent_folder_id": team, "name": "carol-kc.txt", "content_text": "x"}),
                ),
                (
                    "box_file_update",
                    json!({"file_id": shared_id, "name": "carol-renamed.txt"}),
                ),
            ] {
                let reply = carol.call(tool, arguments).await;
                assert!(
                    reply.rpc.get("result").is_none(),
                    "{who}: {tool}: {}",
                    reply.rpc
                );
                assert_eq!(
                    reply.rpc["error"], unknown,
                    "{who}: a viewer's {tool} answers like an unknown tool"
                );
            }
            assert_eq!(
                sandbox.requests().len(),
                box_calls,
                "{who}: refused by the policy, Box was not called"
            );
            let listing = alice
                .ok("box_folder_list", json!({"folder_id": team}))
                .await;
            let listing = listing.to_string();
            assert!(listing.contains("bob-kc.txt"), "{who}: {listing}");
            assert!(!listing.contains("carol-kc.txt"), "{who}: {listing}");
            assert!(!listing.contains("carol-renamed.txt"), "{who}: {listing}");

            // No Keycloak token and no parent token ever reached Box.
            let log = sandbox.requests();
            assert_no_parent_token_on_api(&log);
            for user in [&alice, &bob, &carol] {
                assert_no_idp_token(&log, &user.token);
            }
            for entry in api_calls(&log) {
                let subject = entry.token.as_ref().and_then(|t| t.subject.clone());
                assert!(
                    [fixture::ALICE, fixture::BOB, fixture::CAROL]
                        .contains(&subject.as_deref().unwrap_or_default()),
                    "{who}: {} {} acted for {subject:?}",
                    entry.method,
                    entry.path
                );
            }
            let logs = server.stop().await;
            common::box_env::assert_no_panic(&logs);
        }
    }
}
