//! The resource-server spine, end to end: the real binary, a local OIDC issuer
//! with keys minted here, and plain HTTP. Each case checks status, headers and body.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, Fixture, Mode, ServerProcess, TestIssuer, TestKey, now};

fn challenge_for(server: &ServerProcess) -> String {
    format!(
        r#"Bearer resource_metadata="{}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#,
        server.base
    )
}

#[tokio::test]
async fn no_token_gets_the_exact_challenge_on_every_method() {
    let f = Fixture::start(&[]).await;
    for method in [Method::POST, Method::GET, Method::DELETE] {
        let reply = f
            .server
            .mcp_raw(method.clone(), None, None, Some(&json!({})))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method}");
        assert_eq!(
            reply.www_authenticate(),
            challenge_for(&f.server),
            "{method}"
        );
        assert_eq!(reply.json()["error"], "missing_token");
    }
    // Another scheme is not bearer credentials: the plain challenge again.
    let reply = f
        .server
        .http
        .post(&f.server.resource)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers()["www-authenticate"],
        challenge_for(&f.server).as_str()
    );
}

#[tokio::test]
async fn valid_token_reaches_whoami_with_subject_and_roles() {
    let f = Fixture::start(&[]).await;
    let token = f.token_with("alice", |c| {
        c["realm_access"]["roles"] = json!(["mcp-admin", "mcp-editor"]);
        c["groups"] = json!(["/mcp-admins"]);
    });
    let session = f.server.initialize(&token).await;
    assert!(session.is_some(), "a stateful server issues a session id");

    let list = f
        .server
        .rpc(&token, session.as_deref(), "tools/list", json!({}))
        .await;
    let tools = list.json_rpc()["result"]["tools"].clone();
    let names: Vec<&str> = tools
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"whoami"), "{names:?}");
    let whoami = tools
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "whoami")
        .unwrap();
    assert_eq!(whoami["annotations"]["readOnlyHint"], true);

    let call = f
        .server
        .rpc(
            &token,
            session.as_deref(),
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
        )
        .await;
    let result = &call.json_rpc()["result"];
    let me = &result["structuredContent"];
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["client_id"], "mcp-client");
    assert_eq!(me["roles"], json!(["mcp-admin", "mcp-editor"]));
    assert_eq!(me["groups"], json!(["/mcp-admins"]));
    assert_eq!(me["box_user_id"], "31000001");
    assert_eq!(me["issuer"], f.issuer.url);
    assert!(
        !call.body.contains(&token),
        "a tool result never carries the token"
    );
}

#[tokio::test]
async fn each_failed_check_is_refused_and_named() {
    let f = Fixture::start(&[]).await;
    let t = now();
    let other_key = TestKey::generate("key-1"); // same kid, different key
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong aud",
            f.token_with("u", |c| c["aud"] = json!("https://elsewhere.example/mcp")),
            "audience",
        ),
        (
            "missing aud",
            f.token_with("u", |c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
            "`aud`",
        ),
        (
            "wrong iss",
            f.token_with("u", |c| c["iss"] = json!("http://127.0.0.1:1/realms/other")),
            "another issuer",
        ),
        (
            "missing iss",
            f.token_with("u", |c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            "`iss`",
        ),
        (
            "missing exp",
            f.token_with("u", |c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            "`exp`",
        ),
        (
            "missing sub",
            f.token_with("u", |c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
            "`sub`",
        ),
        (
            "expired beyond leeway",
            f.token_with("u", |c| {
                c["exp"] = json!(t - 120);
                c["iat"] = json!(t - 400);
            }),
            "expired",
        ),
        (
            "not yet valid beyond leeway",
            f.token_with("u", |c| c["nbf"] = json!(t + 120)),
            "not valid yet",
        ),
        (
            "bad signature",
            other_key.sign(&f.issuer.claims(&f.server.resource, "u")),
            "signature",
        ),
        ("garbage", "abc.def.ghi".to_string(), "well-formed"),
        ("not a JWT", "opaque-token".to_string(), "well-formed"),
    ];
    for (name, token, expected) in cases {
        let reply = f
            .server
            .mcp_raw(
                Method::POST,
                Some(&token),
                None,
                Some(&common::server::initialize_request()),
            )
            .await;
        reply.assert_invalid_token(expected);
        assert!(
            !reply.www_authenticate().contains(&token),
            "{name}: the challenge echoes the token"
        );
        assert!(
            !reply.body.contains(&token),
            "{name}: the body echoes the token"
        );
    }
    // Inside the 30 s leeway, expiry and nbf are tolerated.
    let lenient = f.token_with("u", |c| {
        c["exp"] = json!(t - 5);
        c["nbf"] = json!(t + 5);
    });
    assert!(f.server.initialize(&lenient).await.is_some());
}

#[tokio::test]
async fn algorithm_attacks_are_refused() {
    let f = Fixture::start(&[]).await;
    let claims = f.issuer.claims(&f.server.resource, "mallory");
    let payload = B64.encode(serde_json::to_vec(&claims).unwrap());

    // alg: none, with and without a trailing signature.
    let none_header = B64.encode(br#"{"alg":"none","typ":"JWT","kid":"key-1"}"#);
    for token in [
        format!("{none_header}.{payload}."),
        format!("{none_header}.{payload}.c2ln"),
    ] {
        let reply = f
            .server
            .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
            .await;
        reply.assert_invalid_token("algorithm");
    }

    // HS256 "signed" with the RSA public key as the HMAC secret.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("key-1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(f.key.public_pem.as_bytes()),
    )
    .unwrap();
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&hs), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("algorithm");

    // A header algorithm that does not match the key (PS256 with an RS256 key).
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some("key-1".into());
    let ps = f.key.sign_with(header, &claims);
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&ps), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("algorithm");
}

#[tokio::test]
async fn unknown_kid_triggers_one_rate_limited_refresh_and_is_then_accepted() {
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    let server = ServerProcess::start(
        &issuer.url,
        &[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "2s")],
    )
    .await;
    server.wait_ready(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await; // past the start-up fetch's window

    let rotated = TestKey::generate("key-2");
    let token = rotated.sign(&issuer.claims(&server.resource, "alice"));
    let before = issuer.jwks_hits();

    // Not published yet: one refresh, then refused. Repeats inside the window fetch nothing.
    for _ in 0..5 {
        let reply = server
            .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
            .await;
        reply.assert_invalid_token("kid");
    }
    assert_eq!(
        issuer.jwks_hits() - before,
        1,
        "unknown kids cause at most one fetch per interval"
    );

    // Published: after the interval, the next token with that kid refreshes and passes.
    issuer.publish(&rotated);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let me = server.whoami(&token).await;
    assert_eq!(me["subject"], "alice");
    assert_eq!(issuer.jwks_hits() - before, 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_cause_a_single_fetch() {
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    let server = ServerProcess::start(
        &issuer.url,
        &[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "1s")],
    )
    .await;
    server.wait_ready(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = TestKey::generate("key-2");
    issuer.publish(&rotated);
    let before = issuer.jwks_hits();
    let calls = (0..20).map(|i| {
        let token = rotated.sign(&issuer.claims(&server.resource, &format!("user-{i}")));
        let server = &server;
        async move {
            server
                .mcp_raw(
                    Method::POST,
                    Some(&token),
                    None,
                    Some(&common::server::initialize_request()),
                )
                .await
                .status
        }
    });
    let statuses = futures::future::join_all(calls).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(issuer.jwks_hits() - before, 1, "single flight");
}

#[tokio::test]
async fn jku_and_x5u_headers_are_ignored() {
    let f = Fixture::start(&[]).await;
    // The attacker publishes its own key and points the token at it.
    let attacker_key = TestKey::generate("attacker");
    let attacker = TestIssuer::start(&[&attacker_key], Mode::Up).await;
    let jwks_url = format!(
        "http://{}/realms/test/protocol/openid-connect/certs",
        attacker.addr
    );

    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("attacker".into());
    header.jku = Some(jwks_url.clone());
    header.x5u = Some(jwks_url.clone());
    let forged = attacker_key.sign_with(header, &f.issuer.claims(&f.server.resource, "mallory"));
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&forged), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("kid");
    assert_eq!(
        attacker.total_hits(),
        0,
        "the server never fetched the jku/x5u URL"
    );

    // A genuine token that happens to carry a jku is judged by the issuer's keys only.
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("key-1".into());
    header.jku = Some(jwks_url);
    let genuine = f
        .key
        .sign_with(header, &f.issuer.claims(&f.server.resource, "alice"));
    assert_eq!(f.server.whoami(&genuine).await["subject"], "alice");
    assert_eq!(attacker.total_hits(), 0);
}

#[tokio::test]
async fn query_tokens_and_malformed_headers_get_400() {
    let f = Fixture::start(&[]).await;
    let token = f.token("alice");
    let reply = f
        .server
        .http
        .post(format!("{}?access_token={token}", f.server.resource))
        .json(&common::server::initialize_request())
        .send()
        .await
        .unwrap();
    let reply = common::Reply::read(reply).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .www_authenticate()
            .starts_with(r#"Bearer error="invalid_request""#),
        "{}",
        reply.www_authenticate()
    );
    assert!(!reply.body.contains(&token));

    // Even with a valid header token, a token in the query is refused.
    let reply = f
        .server
        .http
        .post(format!("{}?access_token=x", f.server.resource))
        .bearer_auth(&token)
        .json(&common::server::initialize_request())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::BAD_REQUEST);

    for header in [
        "Bearer",
        "Bearer ",
        "Bearer a b",
        "Bearer a,b",
        "Bearer {x}",
    ] {
        let reply = f
            .server
            .http
            .post(&f.server.resource)
            .header("authorization", header)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let reply = common::Reply::read(reply).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{header:?}");
        assert_eq!(reply.json()["error"], "invalid_request", "{header:?}");
    }
}

#[tokio::test]
async fn token_without_required_scope_gets_403_insufficient_scope() {
    let f = Fixture::start(&[]).await;
    let token = f.token_with("alice", |c| c["scope"] = json!("openid email"));
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.www_authenticate(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a scope this request needs", scope="mcp:tools", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            f.server.base
        )
    );
}

#[tokio::test]
async fn disallowed_origin_and_host_get_403() {
    let f = Fixture::start(&[(
        "BOX_MCP_HTTP__ALLOWED_ORIGINS",
        r#"["http://localhost:6274"]"#,
    )])
    .await;
    let token = f.token("alice");
    let post = |origin: &'static str| {
        f.server
            .http
            .post(&f.server.resource)
            .header("origin", origin)
            .header("accept", "application/json, text/event-stream")
            .bearer_auth(&token)
            .json(&common::server::initialize_request())
            .send()
    };
    let evil = post("https://evil.example").await.unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        evil.json::<Value>().await.unwrap()["error"],
        "origin_not_allowed"
    );

    let allowed = post("http://localhost:6274").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // DNS rebinding: a Host the server is not known by.
    let rebound = f
        .server
        .http
        .post(&f.server.resource)
        .header("host", "attacker.example")
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        rebound.json::<Value>().await.unwrap()["error"],
        "host_not_allowed"
    );

    // Health probes come with whatever Host the orchestrator uses.
    let probe = f
        .server
        .http
        .get(format!("{}/readyz", f.server.base))
        .header("host", "10.1.2.3:8000")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let f = Fixture::start(&[("BOX_MCP_HTTP__MAX_BODY_BYTES", "4096")]).await;
    let token = f.token("alice");
    let big =
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(8192)}});
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&token), None, Some(&big))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_session_belongs_to_the_subject_that_created_it() {
    let f = Fixture::start(&[]).await;
    let alice = f.token("alice");
    let bob = f.token("bob");
    let session = f.server.initialize(&alice).await.expect("session id");

    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    let replay = f
        .server
        .mcp_raw(Method::POST, Some(&bob), Some(&session), Some(&list))
        .await;
    assert_eq!(replay.status, StatusCode::NOT_FOUND);
    for method in [Method::GET, Method::DELETE] {
        let replay = f
            .server
            .mcp_raw(method.clone(), Some(&bob), Some(&session), None)
            .await;
        assert_eq!(replay.status, StatusCode::NOT_FOUND, "{method}");
    }
    // A session id nobody was given looks the same.
    let unknown = f
        .server
        .mcp_raw(Method::POST, Some(&bob), Some("made-up"), Some(&list))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body, replay_body(&f, &bob, &session).await);

    // The owner, with a fresh token, still uses it; then ends it.
    let alice_again = f.token_with("alice", |c| c["jti"] = json!("second"));
    let ok = f
        .server
        .mcp_raw(
            Method::POST,
            Some(&alice_again),
            Some(&session),
            Some(&list),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let end = f
        .server
        .mcp_raw(Method::DELETE, Some(&alice), Some(&session), None)
        .await;
    assert!(end.status.is_success(), "{}", end.status);
    let after = f
        .server
        .mcp_raw(Method::POST, Some(&alice), Some(&session), Some(&list))
        .await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
}

async fn replay_body(f: &Fixture, token: &str, session: &str) -> String {
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}});
    f.server
        .mcp_raw(Method::POST, Some(token), Some(session), Some(&list))
        .await
        .body
}

#[tokio::test]
async fn idp_down_at_start_gives_503_then_recovers_without_restart() {
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Down).await;
    let server = ServerProcess::start(&issuer.url, &[]).await;
    let token = key.sign(&issuer.claims(&server.resource, "alice"));

    // /readyz says why it is not ready, once the first attempt has failed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let ready = server
            .http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = ready.json().await.unwrap();
        if !body["keys"]["reason"].is_null() || tokio::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["ready"], false);
    assert!(
        body["keys"]["reason"].as_str().unwrap().contains("503"),
        "{body}"
    );

    let reply = server
        .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.json()["error"], "identity_provider_unavailable");
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("503"),
        "{}",
        reply.body
    );
    assert!(reply.header("retry-after").is_some());

    let health = server
        .http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);

    issuer.set_mode(Mode::Up);
    server.wait_ready(Duration::from_secs(10)).await;
    assert_eq!(server.whoami(&token).await["subject"], "alice");
}

#[tokio::test]
async fn jwks_failing_after_start_keeps_the_known_keys() {
    let f = Fixture::start(&[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "1s")]).await;
    f.issuer.set_mode(Mode::JwksFailing);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // An unknown kid forces a refresh, which fails...
    let stranger = TestKey::generate("key-9").sign(&f.issuer.claims(&f.server.resource, "x"));
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&stranger), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("kid");
    // ...and a token never seen before, signed with a known key, still verifies.
    assert_eq!(f.server.whoami(&f.token("carol")).await["subject"], "carol");
    let ready: Value = f
        .server
        .http
        .get(format!("{}/readyz", f.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], true);
    assert!(
        ready["keys"]["last_error"]
            .as_str()
            .unwrap()
            .contains("500"),
        "{ready}"
    );
}

#[tokio::test]
async fn withdrawn_keys_stop_counting_even_for_cached_tokens() {
    let f = Fixture::start(&[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "1s")]).await;
    let token = f.token("alice");
    assert_eq!(f.server.whoami(&token).await["subject"], "alice"); // now cached

    let replacement = TestKey::generate("key-2");
    f.issuer.publish(&replacement);
    f.issuer.withdraw("key-1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A token with the new kid makes the server refresh; key-1 is gone afterwards.
    let fresh = replacement.sign(&f.issuer.claims(&f.server.resource, "bob"));
    assert_eq!(f.server.whoami(&fresh).await["subject"], "bob");
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("kid");
}

#[tokio::test]
async fn a_cached_token_still_expires() {
    let f = Fixture::start(&[("BOX_MCP_AUTH__LEEWAY", "0s")]).await;
    let token = f.token_with("alice", |c| c["exp"] = json!(now() + 2));
    assert_eq!(f.server.whoami(&token).await["subject"], "alice");
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&token), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("expired");
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer() {
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    issuer.claim_issuer("http://127.0.0.1:1/realms/impostor");
    let server = ServerProcess::start(&issuer.url, &[]).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready: Value = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["ready"], false);
    assert!(
        ready["keys"]["reason"]
            .as_str()
            .unwrap()
            .contains("impostor"),
        "{ready}"
    );
}

#[tokio::test]
async fn both_metadata_documents_name_the_canonical_resource() {
    let f = Fixture::start(&[(
        "BOX_MCP_AUTH__SCOPES_SUPPORTED",
        r#"["mcp:tools","box:write","offline_access"]"#,
    )])
    .await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let reply = f
            .server
            .http
            .get(format!("{}{path}", f.server.base))
            .header("origin", "https://some-browser-client.example")
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
        assert_eq!(reply.headers()["content-type"], "application/json");
        assert_eq!(
            reply.headers()["access-control-allow-origin"],
            "*",
            "{path} is CORS-readable"
        );
        let doc: Value = reply.json().await.unwrap();
        assert_eq!(
            doc["resource"].as_str().unwrap().as_bytes(),
            f.server.resource.as_bytes()
        );
        assert_eq!(doc["authorization_servers"], json!([f.issuer.url]));
        assert_eq!(doc["scopes_supported"], json!(["mcp:tools", "box:write"]));
        assert_eq!(doc["bearer_methods_supported"], json!(["header"]));
        assert_eq!(doc["resource_name"], "box-mcp");
    }
}

#[tokio::test]
async fn a_configured_public_url_is_the_audience_and_resource() {
    let f = Fixture::start(&[
        ("BOX_MCP_PUBLIC_BASE_URL", "https://mcp.example.com/"),
        ("BOX_MCP_HTTP__ALLOWED_HOSTS", r#"["*"]"#),
    ])
    .await;
    let doc: Value = f
        .server
        .http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            f.server.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["resource"], "https://mcp.example.com/mcp");
    let for_public = f
        .key
        .sign(&f.issuer.claims("https://mcp.example.com/mcp", "alice"));
    assert_eq!(f.server.whoami(&for_public).await["subject"], "alice");
    let for_local = f.token("alice"); // audience = the loopback URL, not the public one
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&for_local), None, Some(&json!({})))
        .await;
    reply.assert_invalid_token("audience");
}

#[tokio::test]
async fn stateless_mode_serves_tools_without_sessions() {
    let f = Fixture::start(&[("BOX_MCP_STATELESS", "true")]).await;
    let token = f.token("alice");
    let init = f
        .server
        .mcp_raw(
            Method::POST,
            Some(&token),
            None,
            Some(&common::server::initialize_request()),
        )
        .await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.body);
    assert!(init.header("mcp-session-id").is_none());
    let call = f
        .server
        .rpc(
            &token,
            None,
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
        )
        .await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.body);
    assert_eq!(
        call.json_rpc()["result"]["structuredContent"]["subject"],
        "alice"
    );
}

#[tokio::test]
async fn protocol_revisions_2025_11_25_and_2026_07_28_are_served() {
    let f = Fixture::start(&[]).await;
    let token = f.token("alice");

    // 2025-11-25: initialize negotiates that revision.
    let mut init = common::server::initialize_request();
    init["params"]["protocolVersion"] = json!("2025-11-25");
    let reply = f
        .server
        .mcp_raw(Method::POST, Some(&token), None, Some(&init))
        .await;
    assert_eq!(
        reply.json_rpc()["result"]["protocolVersion"],
        "2025-11-25",
        "{}",
        reply.body
    );

    // 2026-07-28: no initialize, no session; every request carries its metadata.
    let call = json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {
            "name": "whoami", "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "0"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let reply = f
        .server
        .http
        .post(&f.server.resource)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami")
        .json(&call)
        .send()
        .await
        .unwrap();
    let reply = common::Reply::read(reply).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.header("mcp-session-id").is_none());
    assert_eq!(
        reply.json_rpc()["result"]["structuredContent"]["subject"],
        "alice",
        "{}",
        reply.body
    );

    // Without a token, 2026-07-28 requests get the same challenge.
    let reply = f
        .server
        .http
        .post(&f.server.resource)
        .header("mcp-protocol-version", "2026-07-28")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers()["www-authenticate"],
        challenge_for(&f.server).as_str()
    );
}

#[tokio::test]
async fn periodic_refresh_follows_the_jwks_cache_lifetime() {
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    issuer.set_cache_control(Some("public, max-age=1"));
    let server = ServerProcess::start(
        &issuer.url,
        &[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "1s")],
    )
    .await;
    server.wait_ready(Duration::from_secs(10)).await;
    // No request at all: the refresher alone comes back after max-age.
    let before = issuer.jwks_hits();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert!(
        issuer.jwks_hits() >= before + 2,
        "refreshed every second: {} -> {}",
        before,
        issuer.jwks_hits()
    );

    // Without cache headers the default interval (5 min) applies: no refetch.
    issuer.set_cache_control(None);
    tokio::time::sleep(Duration::from_millis(1500)).await; // let the last max-age cycle pass
    let before = issuer.jwks_hits();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(issuer.jwks_hits(), before);
}

#[tokio::test]
async fn periodic_refreshes_do_not_starve_the_refresh_for_an_unknown_kid() {
    // Regression: periodic refreshes used to reset the on-demand rate limit, so
    // with a JWKS refetched every few seconds an unknown kid never refreshed.
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    issuer.set_cache_control(Some("max-age=1")); // clamped to the 3 s minimum below
    let server = ServerProcess::start(
        &issuer.url,
        &[("BOX_MCP_AUTH__JWKS_MIN_REFRESH_INTERVAL", "3s")],
    )
    .await;
    server.wait_ready(Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(3200)).await; // a periodic refresh has just run

    let rotated = TestKey::generate("key-2");
    issuer.publish(&rotated);
    let token = rotated.sign(&issuer.claims(&server.resource, "alice"));
    let reply = server
        .mcp_raw(
            Method::POST,
            Some(&token),
            None,
            Some(&common::server::initialize_request()),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the first token with the new kid is accepted: {}",
        reply.body
    );
}

#[tokio::test]
async fn a_write_tool_without_box_write_gets_the_exact_step_up_challenge() {
    let f = Fixture::start(&[]).await;
    // An editor (the policy allows writing) whose token lacks box:write.
    let token = f.token_with("alice", |c| {
        c["realm_access"]["roles"] = json!(["mcp-editor"])
    });
    let session = f.server.initialize(&token).await;
    let create =
        json!({"name": "box_folder_create", "arguments": {"parent_folder_id": "0", "name": "x"}});
    let reply = f
        .server
        .rpc(&token, session.as_deref(), "tools/call", create.clone())
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
    assert_eq!(
        reply.www_authenticate(),
        format!(
            r#"Bearer error="insufficient_scope", error_description="the token lacks a scope this request needs", scope="mcp:tools box:write", resource_metadata="{}/.well-known/oauth-protected-resource/mcp""#,
            f.server.base
        )
    );
    // The refusal is in the audit trail.
    let refused = f
        .server
        .logs()
        .into_iter()
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .find(|v| v["target"] == "box_mcp::audit" && v["tool"] == "box_folder_create");
    let refused = refused.expect("an audit event for the refused call");
    assert_eq!(refused["decision"], "insufficient_scope");
    assert_eq!(refused["outcome"], "refused");
    // Reading needs only mcp:tools: the call passes the gate (Box is not configured here).
    let read = f
        .server
        .rpc(
            &token,
            session.as_deref(),
            "tools/call",
            json!({"name": "box_file_get", "arguments": {"file_id": "1"}}),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(
        read.json_rpc()["result"]["structuredContent"]["error"],
        "not_configured"
    );
    // With box:write, the write tool passes the gate too.
    let writer = f.token_with("alice", |c| {
        c["scope"] = json!("openid mcp:tools box:write");
        c["realm_access"]["roles"] = json!(["mcp-editor"]);
    });
    let ok = f
        .server
        .rpc(&writer, session.as_deref(), "tools/call", create)
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

#[tokio::test]
async fn a_broader_configured_scope_satisfies_narrower_ones() {
    let f = Fixture::start(&[(
        "BOX_MCP_AUTH__SCOPE_HIERARCHY",
        r#"{"box:admin"=["box:write","mcp:tools"]}"#,
    )])
    .await;
    let admin = f.token_with("alice", |c| {
        c["scope"] = json!("openid box:admin");
        c["realm_access"]["roles"] = json!(["mcp-editor"]);
    });
    let session = f.server.initialize(&admin).await;
    let create =
        json!({"name": "box_folder_create", "arguments": {"parent_folder_id": "0", "name": "x"}});
    let reply = f
        .server
        .rpc(&admin, session.as_deref(), "tools/call", create)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// POSTs `body` as JSON text to /mcp with a valid token.
async fn post_text(f: &Fixture, token: &str, body: &str) -> common::Reply {
    let reply = f
        .server
        .http
        .post(&f.server.resource)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    common::Reply::read(reply).await
}

#[tokio::test]
async fn bodies_that_are_not_one_json_rpc_message_get_400_with_the_json_rpc_error() {
    let f = Fixture::start(&[]).await;
    let token = f.token("alice");
    for (body, code) in [
        ("not json", -32700),
        (r#"{"jsonrpc":"2.0","id":1,"method":"#, -32700),
        // A batch, duplicate members, positional params: a lenient parser behind the
        // scope gate could read a write call the gate did not see.
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"box_file_delete"}}]"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"box_file_delete","arguments":{}}}"#,
            -32600,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["box_file_delete",{}]}"#,
            -32600,
        ),
        (r#"{"id":1,"method":"tools/list"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#,
            -32602,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"box_file_delete"}}"#,
            -32602,
        ),
    ] {
        let reply = post_text(&f, &token, body).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.body
        );
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("application/json"),
            "{body}"
        );
        let rpc = reply.json();
        assert_eq!(rpc["jsonrpc"], "2.0", "{body}: {rpc}");
        assert_eq!(rpc["id"], Value::Null, "{body}: {rpc}");
        assert_eq!(rpc["error"]["code"], code, "{body}: {rpc}");
    }
    // A well-formed request still goes through.
    assert!(f.server.initialize(&token).await.is_some());
}

#[tokio::test]
async fn single_valued_headers_sent_twice_get_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let f = Fixture::start(&[]).await;
    let token = f.token("alice");
    let addr = f.server.base.trim_start_matches("http://").to_string();
    let body = serde_json::to_string(&common::server::initialize_request()).unwrap();
    // Two Host headers (RFC 9112 §3.2: 400), written by hand: HTTP clients never send it.
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nHost: evil.example\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("more than one host header"), "{answer}");

    // Two session ids.
    let session = f.server.initialize(&token).await.unwrap();
    let reply = f
        .server
        .http
        .post(&f.server.resource)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-session-id", "another")
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send()
        .await
        .unwrap();
    let reply = common::Reply::read(reply).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.json()["error"], "invalid_request");
}

#[tokio::test]
async fn a_client_that_sends_its_headers_a_byte_at_a_time_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let f = Fixture::start(&[("BOX_MCP_HTTP__HEADER_READ_TIMEOUT", "1s")]).await;
    let addr = f.server.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let started = std::time::Instant::now();
    let request = format!("POST /mcp HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ");
    let mut closed = false;
    // One byte every 300 ms: the headers would take minutes.
    for byte in request.bytes().chain(std::iter::repeat(b'a')).take(40) {
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                // hyper answers 408 before closing; the connection ends next.
            }
            Err(_) => {}
        }
    }
    let elapsed = started.elapsed();
    assert!(closed, "the connection stayed open for {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "cut off after {elapsed:?}"
    );
    // The server still serves everyone else (on a new connection: with a 1 s header
    // timeout, an idle pooled one is closed as well).
    assert_eq!(
        healthz_on_a_new_connection(&f.server.base).await,
        Some(StatusCode::OK)
    );
}

/// `GET /healthz` on a connection of its own (no pooled one), retried for 5 s
/// while the server refuses connections.
async fn healthz_on_a_new_connection(base: &str) -> Option<StatusCode> {
    let fresh = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for _ in 0..50 {
        if let Ok(reply) = fresh.get(format!("{base}/healthz")).send().await {
            return Some(reply.status());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    use tokio::io::AsyncReadExt;

    let f = Fixture::start(&[("BOX_MCP_HTTP__MAX_CONNECTIONS", "2")]).await;
    let addr = f.server.base.trim_start_matches("http://").to_string();
    // Open connections one by one (the harness may hold one of its own): those within
    // the cap stay open and silent, the first beyond it is closed at once.
    let mut open = Vec::new();
    let mut refused = false;
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut buf = [0u8; 16];
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Err(_) => open.push(stream),
            Ok(read) => {
                assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "a connection beyond the cap was left open");
    assert!(
        open.len() <= 2,
        "{} connections within a cap of 2",
        open.len()
    );
    // Closing them frees their places.
    drop(open);
    assert_eq!(
        healthz_on_a_new_connection(&f.server.base).await,
        Some(StatusCode::OK)
    );
}

#[tokio::test]
async fn sessions_beyond_the_cap_get_503_and_a_closed_one_frees_its_place() {
    let f = Fixture::start(&[("BOX_MCP_SESSION__MAX_SESSIONS", "2")]).await;
    let token = f.token("alice");
    let first = f.server.initialize(&token).await.expect("a session");
    let _second = f.server.initialize(&token).await.expect("a second session");
    let third = f
        .server
        .mcp_raw(
            Method::POST,
            Some(&token),
            None,
            Some(&common::server::initialize_request()),
        )
        .await;
    assert_eq!(
        third.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        third.body
    );
    assert_eq!(third.header("retry-after").as_deref(), Some("5"));
    assert_eq!(third.json()["error"], "too_many_sessions");
    // Live sessions keep working; other requests are not counted.
    let listed = f
        .server
        .rpc(&token, Some(&first), "tools/list", json!({}))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    // Closing one makes room.
    let closed = f
        .server
        .mcp_raw(Method::DELETE, Some(&token), Some(&first), None)
        .await;
    assert!(closed.status.is_success(), "{}", closed.body);
    assert!(f.server.initialize(&token).await.is_some());
}

#[tokio::test]
async fn one_subject_may_hold_only_its_share_of_sessions() {
    let f = Fixture::start(&[("BOX_MCP_SESSION__MAX_SESSIONS_PER_SUBJECT", "2")]).await;
    let alice = f.token("alice");
    let first = f.server.initialize(&alice).await.expect("a session");
    f.server.initialize(&alice).await.expect("a second session");
    let third = f
        .server
        .mcp_raw(
            Method::POST,
            Some(&alice),
            None,
            Some(&common::server::initialize_request()),
        )
        .await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        third.body
    );
    assert_eq!(third.json()["error"], "too_many_sessions_for_subject");
    // Another user is not affected.
    assert!(f.server.initialize(&f.token("bob")).await.is_some());
    // Closing one of alice's gives her place back.
    let closed = f
        .server
        .mcp_raw(Method::DELETE, Some(&alice), Some(&first), None)
        .await;
    assert!(closed.status.is_success(), "{}", closed.body);
    assert!(f.server.initialize(&alice).await.is_some());
}

#[tokio::test]
async fn an_idle_sessions_sse_stream_ends_with_it_and_frees_its_place() {
    // The place held under each cap: the subject's, then the server's.
    for cap in [
        "BOX_MCP_SESSION__MAX_SESSIONS_PER_SUBJECT",
        "BOX_MCP_SESSION__MAX_SESSIONS",
    ] {
        idle_session_ends_and_frees_its_place(cap).await;
    }
}

async fn idle_session_ends_and_frees_its_place(cap: &str) {
    let f = Fixture::start(&[("BOX_MCP_SESSION__IDLE_TIMEOUT", "2s"), (cap, "1")]).await;
    let token = f.token("alice");
    let session = f.server.initialize(&token).await.expect("a session");
    let stream = f
        .server
        .http
        .get(&f.server.resource)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", common::server::PROTOCOL_VERSION)
        .header("mcp-session-id", &session)
        .bearer_auth(&token)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the GET stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let opened = std::time::Instant::now();
    // Nothing is sent either way: the stream must end on its own.
    let body = tokio::time::timeout(Duration::from_secs(15), stream.text())
        .await
        .expect("an idle SSE stream was left open");
    let lasted = opened.elapsed();
    assert!(
        lasted >= Duration::from_millis(1500) && lasted < Duration::from_secs(10),
        "the stream lasted {lasted:?} with a 2 s idle timeout: {body:?}"
    );
    let gone = f
        .server
        .rpc(&token, Some(&session), "tools/list", json!({}))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    // The idle session's place is given back at once, not when its binding expires.
    assert!(f.server.initialize(&token).await.is_some(), "{cap}");
}

#[tokio::test]
async fn the_keys_are_refreshed_every_jwks_refresh_interval() {
    let f = Fixture::start(&[("BOX_MCP_AUTH__JWKS_REFRESH_INTERVAL", "1s")]).await;
    let first = f.issuer.jwks_hits();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let refreshed = f.issuer.jwks_hits() - first;
    assert!(
        (2..=5).contains(&refreshed),
        "{refreshed} refreshes in 3.5 s with a 1 s interval"
    );
}
