//! Auth0 as the identity provider: the real binary with `claims.preset = "auth0"`
//! against a local issuer shaped like an Auth0 tenant (issuer with a trailing slash,
//! `aud` arrays with the userinfo audience, `permissions`, a namespaced roles claim).
//! See docs/auth0.md.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{ServerProcess, TestKey, auth0_issuer::Auth0Issuer};

const SUB: &str = "auth0|abc";

/// An Auth0-shaped issuer and a server configured for it with `env`.
async fn start(env: &[(&str, &str)]) -> (TestKey, Auth0Issuer, ServerProcess) {
    let key = TestKey::generate("auth0-key-1");
    let issuer = Auth0Issuer::start(&[&key]).await;
    let server = ServerProcess::start(&issuer.issuer, env).await;
    server.wait_ready(Duration::from_secs(10)).await;
    (key, issuer, server)
}

async fn get_json(server: &ServerProcess, path: &str) -> (StatusCode, Value) {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn preset_reads_namespaced_roles_permissions_and_username() {
    let (key, issuer, server) = start(&[("BOX_MCP_CLAIMS__PRESET", "auth0")]).await;
    assert!(issuer.issuer.ends_with('/'), "{}", issuer.issuer);

    let mut claims = issuer.claims(&server.resource, SUB);
    claims["nickname"] = json!("alice");
    claims["name"] = json!("Alice Admin");
    let me = server.whoami(&key.sign(&claims)).await;
    assert_eq!(me["issuer"], issuer.issuer.as_str());
    assert_eq!(me["subject"], SUB);
    assert_eq!(me["username"], "alice"); // nickname first, then name
    assert_eq!(me["client_id"], "dyn-client-Xk2p9"); // azp
    // The namespaced claim from the Action, then the RBAC permissions.
    assert_eq!(
        me["roles"],
        json!(["mcp-editor", "mcp-viewer", "mcp:tools", "box:read"])
    );
    assert_eq!(me["scopes"], json!(["openid", "profile", "mcp:tools"]));
    assert_eq!(me["groups"], json!([]));

    // Without `nickname` the username is `name`. Without `openid`, Auth0's `aud` is a
    // plain string, the API identifier.
    let mut claims = issuer.claims(&server.resource, "auth0|def");
    claims["name"] = json!("Bob Editor");
    claims["aud"] = json!(server.resource);
    claims["scope"] = json!("mcp:tools");
    let me = server.whoami(&key.sign(&claims)).await;
    assert_eq!(me["subject"], "auth0|def");
    assert_eq!(me["username"], "Bob Editor");

    // Clients discover Auth0 through the metadata: the issuer is published exactly,
    // trailing slash included (RFC 8414 discovery depends on it).
    let (status, prm) = get_json(&server, "/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(prm["authorization_servers"], json!([issuer.issuer]));
    assert_eq!(prm["resource"], server.resource.as_str());
    let (status, ready) = get_json(&server, "/readyz").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["issuer"], issuer.issuer.as_str());
}

#[tokio::test]
async fn the_example_configuration_maps_the_actions_claims() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/auth0.toml");
    // The example's tenant and public URL are placeholders: the test's issuer (set by
    // the harness) and the bound address (an empty base URL) take their place.
    let (key, issuer, server) =
        start(&[("BOX_MCP_CONFIG", example), ("BOX_MCP_PUBLIC_BASE_URL", "")]).await;
    let mut claims = issuer.claims(&server.resource, SUB);
    claims["https://box-mcp/username"] = json!("alice");
    claims["https://box-mcp/email"] = json!("alice@example.com");
    claims["https://box-mcp/box_user_id"] = json!("31000001");
    let me = server.whoami(&key.sign(&claims)).await;
    assert_eq!(me["subject"], SUB);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["box_user_id"], "31000001");
    assert_eq!(
        me["roles"],
        json!(["mcp-editor", "mcp-viewer", "mcp:tools", "box:read"])
    );
    let (_, prm) = get_json(&server, "/.well-known/oauth-protected-resource/mcp").await;
    assert_eq!(prm["scopes_supported"], json!(["mcp:tools", "box:write"]));
}

#[tokio::test]
async fn an_iss_without_the_trailing_slash_is_another_issuer() {
    let (key, issuer, server) = start(&[("BOX_MCP_CLAIMS__PRESET", "auth0")]).await;
    let good = key.sign(&issuer.claims(&server.resource, SUB));
    assert_eq!(server.whoami(&good).await["subject"], SUB);

    let mut claims = issuer.claims(&server.resource, SUB);
    claims["iss"] = json!(issuer.issuer.trim_end_matches('/'));
    let reply = server
        .mcp_raw(
            Method::POST,
            Some(&key.sign(&claims)),
            None,
            Some(&json!({})),
        )
        .await;
    reply.assert_invalid_token("issued by another issuer");
}

#[tokio::test]
async fn a_token_only_for_userinfo_is_refused() {
    // What a client gets when it asks for `openid` but names no API (no `audience`,
    // and no `resource` honoured without the compatibility profile).
    let (key, issuer, server) = start(&[("BOX_MCP_CLAIMS__PRESET", "auth0")]).await;
    let mut claims = issuer.claims(&server.resource, SUB);
    claims["aud"] = json!([issuer.userinfo()]);
    let reply = server
        .mcp_raw(
            Method::POST,
            Some(&key.sign(&claims)),
            None,
            Some(&json!({})),
        )
        .await;
    reply.assert_invalid_token("audience");
}

#[tokio::test]
async fn discovery_naming_the_issuer_without_the_slash_is_not_ready() {
    let key = TestKey::generate("auth0-key-1");
    let issuer = Auth0Issuer::start(&[&key]).await;
    let without_slash = issuer.issuer.trim_end_matches('/').to_string();
    issuer.claim_issuer(&without_slash);
    let server = ServerProcess::start(&issuer.issuer, &[("BOX_MCP_CLAIMS__PRESET", "auth0")]).await;

    // Not ready, and /readyz says why, once the first discovery attempt has failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let ready = loop {
        let (status, ready) = get_json(&server, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
        if !ready["keys"]["reason"].is_null() || tokio::time::Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(ready["ready"], false);
    let reason = ready["keys"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{without_slash:?}"))
            && reason.contains(&format!("{:?}", issuer.issuer)),
        "{reason}"
    );

    // Tokens are not verified against a document that names another issuer.
    let token = key.sign(&issuer.claims(&server.resource, SUB));
    let reply = server
        .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.json()["error"], "identity_provider_unavailable");

    // It keeps retrying, and stays not ready.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, _) = get_json(&server, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}
