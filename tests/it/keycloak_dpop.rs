//! DPoP against the real Keycloak: the bundled realm's `box-mcp-test-dpop` client
//! issues tokens bound to the client's key (Keycloak's "Require DPoP bound
//! tokens"); box-mcp takes such a token only with a fresh proof by that key.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{
    self,
    dpop::{DpopKey, ProofClaims},
    now,
};
use crate::dpop::call_whoami;
use crate::keycloak::{KeycloakEnv, PasswordGrant, REALM, REALM_KEYS, claims};

const DPOP_CLIENT: &str = "box-mcp-test-dpop";

/// A DPoP-bound access token for `user`, requested with a proof by `key`.
async fn bound_token(kc: &KeycloakEnv, key: &DpopKey, user: &str) -> String {
    let mut grant = PasswordGrant {
        realm: REALM,
        client: DPOP_CLIENT,
        user,
        password: &format!("{user}-password"),
        scope: "openid mcp:tools",
        dpop: None,
    };
    grant.dpop = Some(key.proof("POST", &grant.token_url(kc), None));
    let body = grant.send(kc).await;
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"].as_str().expect("access_token").into()
}

fn refused(reply: &common::Reply, error: &str) -> String {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.json()["error"], error, "{}", reply.body);
    reply.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_keycloak_dpop_bound_token_works_only_with_a_fresh_proof_by_its_key() {
    let kc = KeycloakEnv::get();
    let _shared = REALM_KEYS.read().await;
    let key = DpopKey::generate();
    let token = bound_token(&kc, &key, "carol").await;
    // Keycloak adds `kc-jkt-type` beside `jkt`, an annotation box-mcp ignores.
    assert_eq!(claims(&token)["cnf"]["jkt"], json!(key.thumbprint));

    let server = kc
        .server(&[
            ("BOX_MCP_AUTH__DPOP__MODE", "accepted"),
            ("BOX_MCP_STATELESS", "true"),
        ])
        .await;
    // The URL the client was told (the public one), not the port it reached.
    let url = kc.resource.clone();
    let dpop = format!("DPoP {token}");

    let proof = key.proof("POST", &url, Some(&token));
    let reply = call_whoami(&server, &dpop, Some(&proof)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let me = &reply.json_rpc()["result"]["structuredContent"];
    assert_eq!(me["username"], "carol", "{me}");

    // The same proof again.
    let why = refused(
        &call_whoami(&server, &dpop, Some(&proof)).await,
        "invalid_dpop_proof",
    );
    assert!(why.contains("used before"), "{why}");
    // No proof; a proof by another key.
    let why = refused(
        &call_whoami(&server, &dpop, None).await,
        "invalid_dpop_proof",
    );
    assert!(why.contains("no DPoP proof"), "{why}");
    let other = DpopKey::generate().proof("POST", &url, Some(&token));
    let why = refused(
        &call_whoami(&server, &dpop, Some(&other)).await,
        "invalid_token",
    );
    assert!(why.contains("another key"), "{why}");
    // Another URL, another method, a stale iat.
    for (htm, htu, iat, expected) in [
        (
            "POST",
            format!("{}/other", kc.public_base),
            now(),
            "another URL",
        ),
        ("GET", url.clone(), now(), "another method"),
        ("POST", url.clone(), now() - 600, "window"),
    ] {
        let proof = key.proof_with(ProofClaims {
            htm,
            htu: &htu,
            token: Some(&token),
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
        });
        let why = refused(
            &call_whoami(&server, &dpop, Some(&proof)).await,
            "invalid_dpop_proof",
        );
        assert!(why.contains(expected), "{htm} {htu} {iat}: {why}");
    }
    // As a bearer token: the binding is in the token, so it is refused.
    let why = refused(
        &call_whoami(&server, &format!("Bearer {token}"), None).await,
        "invalid_token",
    );
    assert!(why.contains("bound to a key"), "{why}");
}
