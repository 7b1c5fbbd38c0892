//! Token introspection (RFC 7662) against the real Keycloak: a lightweight access
//! token, which carries no audience or roles, reaches the tools with its roles once
//! box-mcp asks Keycloak about it, and a token whose session was logged out is
//! refused within `auth.introspection.cache_ttl`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::keycloak::{
    KeycloakEnv, PasswordGrant, REALM, REALM_KEYS, TEST_CLIENT, audiences, claims, form, http,
    refused,
};

/// The bundled realm's lightweight-token test client (keycloak/README.md).
const LIGHTWEIGHT_CLIENT: &str = "box-mcp-test-lightweight";
/// box-mcp's own confidential client in the bundled realm (its development secret).
const INTROSPECTION: &[(&str, &str)] = &[
    ("BOX_MCP_AUTH__INTROSPECTION__ENABLED", "true"),
    ("BOX_MCP_AUTH__INTROSPECTION__CLIENT_ID", "box-mcp"),
    (
        "BOX_MCP_AUTH__INTROSPECTION__CLIENT_SECRET",
        "box-mcp-dev-secret",
    ),
];

/// The password grant's whole answer (access and refresh token) at `client`.
async fn grant(kc: &KeycloakEnv, client: &str, user: &str) -> Value {
    PasswordGrant {
        realm: REALM,
        client,
        user,
        password: &format!("{user}-password"),
        scope: "openid mcp:tools",
        dpop: None,
    }
    .send(kc)
    .await
}

fn access_token(grant: &Value) -> String {
    grant["access_token"].as_str().expect("access_token").into()
}

#[tokio::test]
async fn a_lightweight_token_reaches_the_tools_with_its_roles_by_introspection() {
    let kc = KeycloakEnv::get();
    let _shared = REALM_KEYS.read().await;
    let token = access_token(&grant(&kc, LIGHTWEIGHT_CLIENT, "carol").await);
    let c = claims(&token);
    assert!(
        !audiences(&c).contains(&kc.resource) && c.get("realm_access").is_none(),
        "a lightweight token carries neither the audience nor the roles: {c}"
    );

    // Judged on its own claims, it is refused: it names no audience (and no
    // subject; the required claims are checked in a fixed order, so the reason
    // is always the audience).
    let plain = kc.server(&[]).await;
    let why = refused(&plain, &kc, &token).await;
    assert!(why.contains("`aud`"), "{why}");

    // A lightweight token is a JWT: introspect_jwts has box-mcp ask about it.
    let mut env = INTROSPECTION.to_vec();
    env.push(("BOX_MCP_AUTH__INTROSPECTION__INTROSPECT_JWTS", "true"));
    let server = kc.server(&env).await;
    let me = server.whoami(&token).await;
    assert_eq!(
        me["subject"], "ca401000-0000-4000-8000-000000000003",
        "{me}"
    );
    assert_eq!(me["username"], "carol", "{me}");
    assert_eq!(me["client_id"], LIGHTWEIGHT_CLIENT, "{me}");
    let roles: Vec<&str> = me["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .filter_map(Value::as_str)
        .filter(|r| r.starts_with("mcp-"))
        .collect();
    assert_eq!(roles, ["mcp-viewer"], "{me}");
    // The viewer's tools, as the shipped policy gives them, and not an editor's.
    let session = server.initialize(&token).await;
    let listed = server
        .rpc(
            &token,
            session.as_deref(),
            "tools/list",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let names: Vec<String> = listed.json_rpc()["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names.iter().any(|n| n == "box_folder_list"), "{names:?}");
    assert!(!names.iter().any(|n| n == "box_file_upload"), "{names:?}");
}

#[tokio::test]
async fn a_logged_out_sessions_token_is_refused_within_the_cache_bound() {
    let kc = KeycloakEnv::get();
    let _shared = REALM_KEYS.read().await;
    let mut env = INTROSPECTION.to_vec();
    env.extend([
        ("BOX_MCP_AUTH__INTROSPECTION__INTROSPECT_JWTS", "true"),
        ("BOX_MCP_AUTH__INTROSPECTION__CACHE_TTL", "1s"),
    ]);
    let server = kc.server(&env).await;
    for client in [TEST_CLIENT, LIGHTWEIGHT_CLIENT] {
        let answer = grant(&kc, client, "bob").await;
        let token = access_token(&answer);
        assert_eq!(server.whoami(&token).await["username"], "bob", "{client}");

        // Bob's session ends at Keycloak (what an admin's "sign out" or the
        // client's logout does); the token itself is unexpired.
        let logout = http()
            .post(format!(
                "{}/protocol/openid-connect/logout",
                kc.issuer(REALM)
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("client_id", client),
                ("refresh_token", answer["refresh_token"].as_str().unwrap()),
            ]))
            .send()
            .await
            .expect("logout");
        assert!(
            logout.status().is_success(),
            "{client}: {}",
            logout.status()
        );

        tokio::time::sleep(Duration::from_millis(1500)).await;
        let why = refused(&server, &kc, &token).await;
        assert!(why.contains("not active"), "{client}: {why}");
    }
}
