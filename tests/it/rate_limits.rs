//! Rate limits: a burst over the per-subject bucket gets 429 with `Retry-After`
//! and a JSON body while another subject goes on; a flood of refused tokens from
//! one address throttles that address (before verification) and no other; the
//! per-client bucket is counted by the address a trusted proxy names.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{Fixture, Reply, server::initialize_request};

/// The audit events in `logs` of one kind.
fn refusals(logs: &[String], reason: &str) -> Vec<Value> {
    logs.iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "box_mcp::audit" && v["event"] == "refused")
        .filter(|v| v["decision"] == reason)
        .collect()
}

fn assert_limited(reply: &Reply, limit: &str) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    let wait: u64 = reply
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body = reply.json();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert_eq!(body["limit"], limit, "{body}");
    assert_eq!(body["retry_after"], wait, "{body}");
}

/// `initialize` from `client` (sent as X-Forwarded-For through a trusted proxy).
async fn initialize(fixture: &Fixture, token: &str, client: Option<&str>) -> Reply {
    let mut request = fixture
        .server
        .http
        .post(&fixture.server.resource)
        .header("accept", "application/json, text/event-stream")
        .bearer_auth(token)
        .json(&initialize_request());
    if let Some(client) = client {
        request = request.header("x-forwarded-for", client);
    }
    Reply::read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn a_burst_over_the_per_subject_limit_gets_429_and_another_subject_is_unaffected() {
    let fixture = Fixture::start(&[
        ("BOX_MCP_RATE_LIMIT__PER_SUBJECT__BURST", "5"),
        ("BOX_MCP_RATE_LIMIT__PER_SUBJECT__PER_SECOND", "0.05"),
    ])
    .await;
    let alice = fixture.token("alice");
    for n in 0..5 {
        let reply = initialize(&fixture, &alice, None).await;
        assert_eq!(reply.status, StatusCode::OK, "request {n}: {}", reply.body);
    }
    let limited = initialize(&fixture, &alice, None).await;
    assert_limited(&limited, "subject");
    let bob = fixture.token("bob");
    assert_eq!(
        initialize(&fixture, &bob, None).await.status,
        StatusCode::OK
    );
    // Alice's other tokens share her bucket: the limit is per user, not per token.
    let alice_again = fixture.token_with("alice", |c| c["jti"] = "second".into());
    assert_limited(&initialize(&fixture, &alice_again, None).await, "subject");

    let logs = fixture.server.stop().await;
    let events = refusals(&logs, "rate_limited");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events.iter().all(|e| e["client"] == "127.0.0.1"),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_flood_of_failed_tokens_throttles_that_address_before_verification_and_no_other() {
    let fixture = Fixture::start(&[
        ("BOX_MCP_RATE_LIMIT__FAILED_TOKENS__BURST", "5"),
        ("BOX_MCP_RATE_LIMIT__FAILED_TOKENS__PER_SECOND", "0.05"),
        ("BOX_MCP_HTTP__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
    ])
    .await;
    let attacker = "203.0.113.66";
    let forged = crate::common::TestKey::generate("key-1")
        .sign(&fixture.issuer.claims(&fixture.server.resource, "mallory"));
    for n in 0..6 {
        let reply = initialize(&fixture, &forged, Some(attacker)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "attempt {n}: {}",
            reply.body
        );
    }
    // The bucket is spent: the next attempts are turned away unverified, and so is
    // a valid token from the same address while it is throttled.
    for _ in 0..20 {
        assert_limited(
            &initialize(&fixture, &forged, Some(attacker)).await,
            "failed_tokens",
        );
    }
    let alice = fixture.token("alice");
    assert_limited(
        &initialize(&fixture, &alice, Some(attacker)).await,
        "failed_tokens",
    );
    // A request without a token still gets its challenge (discovery is not refused).
    let anonymous = Reply::read(
        fixture
            .server
            .http
            .request(Method::POST, &fixture.server.resource)
            .header("x-forwarded-for", attacker)
            .json(&initialize_request())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // Another address is not affected.
    let reply = initialize(&fixture, &alice, Some("198.51.100.7")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let logs = fixture.server.stop().await;
    // Six tokens were verified and refused; the 21 throttled requests cost no verification.
    let invalid = refusals(&logs, "invalid_token");
    assert_eq!(invalid.len(), 6, "{invalid:?}");
    let throttled = refusals(&logs, "rate_limited");
    assert_eq!(throttled.len(), 21);
    assert!(
        throttled
            .iter()
            .chain(&invalid)
            .all(|e| e["client"] == attacker),
        "the audit names the client the trusted proxy reported"
    );
}

#[tokio::test]
async fn the_per_client_limit_counts_the_address_a_trusted_proxy_names() {
    let fixture = Fixture::start(&[
        ("BOX_MCP_RATE_LIMIT__PER_CLIENT__BURST", "3"),
        ("BOX_MCP_RATE_LIMIT__PER_CLIENT__PER_SECOND", "0.05"),
        ("BOX_MCP_HTTP__TRUSTED_PROXIES", "[\"127.0.0.0/8\"]"),
    ])
    .await;
    let alice = fixture.token("alice");
    for _ in 0..3 {
        assert_eq!(
            initialize(&fixture, &alice, Some("192.0.2.1")).await.status,
            StatusCode::OK
        );
    }
    assert_limited(
        &initialize(&fixture, &alice, Some("192.0.2.1")).await,
        "client_address",
    );
    // A client cannot escape by writing its own X-Forwarded-For: the proxy's
    // append (rightmost) is what counts.
    assert_limited(
        &initialize(&fixture, &alice, Some("10.9.9.9, 192.0.2.1")).await,
        "client_address",
    );
    assert_eq!(
        initialize(&fixture, &alice, Some("192.0.2.2")).await.status,
        StatusCode::OK
    );
    // Health and metadata are not behind the MCP limits.
    let health = fixture
        .server
        .http
        .get(format!("{}/healthz", fixture.server.base))
        .header("x-forwarded-for", "192.0.2.1")
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}
