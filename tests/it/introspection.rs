//! Token introspection (RFC 7662) against the test issuer's endpoint: opaque
//! tokens reach the tools, the answer is held to a JWT's rules, answers are
//! cached within their bound, box-mcp authenticates by Basic or by form, and an
//! endpoint that cannot answer gives 503.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, Fixture, Mode, issuer::INTROSPECTION_CLIENT, now};

const OPAQUE: &str = "opaque-token-4c1b0e8f2d";

fn introspection_env(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut env = vec![
        ("BOX_MCP_AUTH__INTROSPECTION__ENABLED", "true"),
        (
            "BOX_MCP_AUTH__INTROSPECTION__CLIENT_ID",
            INTROSPECTION_CLIENT.0,
        ),
        (
            "BOX_MCP_AUTH__INTROSPECTION__CLIENT_SECRET",
            INTROSPECTION_CLIENT.1,
        ),
    ];
    env.extend_from_slice(extra);
    env
}

/// What the issuer says about an active token for `sub`, after `edit`.
fn active(f: &Fixture, sub: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut answer = f.issuer.claims(&f.server.resource, sub);
    answer["active"] = json!(true);
    answer["token_type"] = json!("Bearer");
    answer["client_id"] = json!("mcp-client");
    edit(&mut answer);
    answer
}

async fn initialize(f: &Fixture, token: &str) -> common::Reply {
    f.server
        .mcp_raw(
            Method::POST,
            Some(token),
            None,
            Some(&common::server::initialize_request()),
        )
        .await
}

fn description(reply: &common::Reply) -> String {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert_eq!(reply.json()["error"], "invalid_token", "{}", reply.body);
    reply.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_opaque_token_reaches_the_tools_and_its_answer_is_cached() {
    for auth in ["client_secret_basic", "client_secret_post"] {
        let env = introspection_env(&[("BOX_MCP_AUTH__INTROSPECTION__CLIENT_AUTH", auth)]);
        let f = Fixture::start(&env).await;
        f.issuer
            .set_introspection(OPAQUE, active(&f, "olivia", |_| {}));
        let me = f.server.whoami(OPAQUE).await;
        assert_eq!(me["subject"], "olivia", "{auth}: {me}");
        assert_eq!(me["roles"], json!(["mcp-viewer"]), "{auth}: {me}");
        let asked = f.issuer.introspection_hits();
        // whoami made an initialize, a notification and a call: one question.
        assert_eq!(asked, 1, "{auth}");
        f.server.whoami(OPAQUE).await;
        assert_eq!(f.issuer.introspection_hits(), asked, "{auth}: cached");
        // JWTs are still verified locally unless introspect_jwts is on.
        f.server.whoami(&f.token("jay")).await;
        assert_eq!(f.issuer.introspection_hits(), asked, "{auth}");
    }
}

#[tokio::test]
async fn the_answer_is_held_to_the_rules_of_a_jwt() {
    let f = Fixture::start(&introspection_env(&[])).await;
    let issuer = f.issuer.url.clone();
    let resource = f.server.resource.clone();
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "inactive",
            Box::new(|a| a["active"] = json!(false)),
            "not active",
        ),
        (
            "active as text",
            Box::new(|a| a["active"] = json!("true")),
            "not active",
        ),
        (
            "another issuer",
            Box::new(|a| a["iss"] = json!("http://127.0.0.1:1/realms/evil")),
            "another issuer",
        ),
        (
            "issuer in an array",
            Box::new(move |a| a["iss"] = json!([issuer])),
            "another issuer",
        ),
        (
            "another audience",
            Box::new(|a| a["aud"] = json!("http://127.0.0.1:1/mcp")),
            "audience",
        ),
        (
            "expired",
            Box::new(|a| a["exp"] = json!(now() - 3600)),
            "expired",
        ),
        (
            "no exp",
            Box::new(|a| {
                a.as_object_mut().unwrap().remove("exp");
            }),
            "exp",
        ),
        (
            "issued in the future",
            Box::new(|a| a["iat"] = json!(now() + 3600)),
            "future",
        ),
        (
            "bound to a key",
            Box::new(|a| a["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})),
            "bound to a key",
        ),
        (
            "no subject",
            Box::new(|a| {
                a.as_object_mut().unwrap().remove("sub");
            }),
            "sub",
        ),
    ];
    for (i, (what, edit, expected)) in cases.into_iter().enumerate() {
        let token = format!("{OPAQUE}-{i}");
        f.issuer
            .set_introspection(&token, active(&f, "olivia", |a| edit(a)));
        let why = description(&initialize(&f, &token).await);
        assert!(why.contains(expected), "{what}: {why}");
    }
    // A token the IdP does not know.
    let why = description(&initialize(&f, "never-issued").await);
    assert!(why.contains("not active"), "{why}");
    assert!(resource.ends_with("/mcp"));
}

#[tokio::test]
async fn without_introspection_an_opaque_token_is_refused_unasked() {
    let f = Fixture::start(&[]).await;
    let why = description(&initialize(&f, OPAQUE).await);
    assert!(why.contains("well-formed JWT"), "{why}");
    assert_eq!(f.issuer.introspection_hits(), 0);
}

#[tokio::test]
async fn an_endpoint_that_cannot_answer_gives_503_and_wrong_credentials_too() {
    let f = Fixture::start(&introspection_env(&[])).await;
    f.issuer
        .set_introspection(OPAQUE, active(&f, "olivia", |_| {}));
    f.issuer.set_mode(Mode::Down);
    let reply = initialize(&f, OPAQUE).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert_eq!(reply.json()["error"], "identity_provider_unavailable");
    assert!(reply.header("retry-after").is_some());
    // Not remembered: once the IdP is back, the same token works.
    f.issuer.set_mode(Mode::Up);
    assert_eq!(f.server.whoami(OPAQUE).await["subject"], "olivia");
    let logs = f.server.logs().join("\n");
    assert!(
        logs.contains("cannot discover the introspection endpoint"),
        "{logs}"
    );
    assert!(!logs.contains(OPAQUE), "the token is never logged");
    assert!(
        !logs.contains(INTROSPECTION_CLIENT.1),
        "box-mcp's client secret is never logged"
    );

    let mut env = introspection_env(&[]);
    env.retain(|(k, _)| *k != "BOX_MCP_AUTH__INTROSPECTION__CLIENT_SECRET");
    const WRONG_SECRET: &str = "a-wrong-introspection-secret";
    env.push(("BOX_MCP_AUTH__INTROSPECTION__CLIENT_SECRET", WRONG_SECRET));
    let f = Fixture::start(&env).await;
    f.issuer
        .set_introspection(OPAQUE, active(&f, "olivia", |_| {}));
    let reply = initialize(&f, OPAQUE).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    let logs = f.server.logs().join("\n");
    assert!(logs.contains("token introspection failed"), "{logs}");
    assert!(!logs.contains(OPAQUE), "the token is never logged");
    assert!(
        !logs.contains(WRONG_SECRET),
        "the client secret is never logged"
    );
}

#[tokio::test]
async fn a_revocation_is_seen_once_the_cache_bound_has_passed() {
    let f = Fixture::start(&introspection_env(&[
        ("BOX_MCP_AUTH__INTROSPECTION__INTROSPECT_JWTS", "true"),
        ("BOX_MCP_AUTH__INTROSPECTION__CACHE_TTL", "1s"),
    ]))
    .await;
    // With introspect_jwts, a JWT is judged by the IdP's answer too.
    let jwt = f.token("jay");
    f.issuer.set_introspection(&jwt, active(&f, "jay", |_| {}));
    assert_eq!(f.server.whoami(&jwt).await["subject"], "jay");
    f.issuer.set_introspection(&jwt, json!({"active": false}));
    // Within the bound the cached answer stands...
    assert_eq!(f.server.whoami(&jwt).await["subject"], "jay");
    // ...and after it the revocation holds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let why = description(&initialize(&f, &jwt).await);
    assert!(why.contains("not active"), "{why}");
}
