//! `/metrics` after a scripted sequence: each family (requests, authentication
//! outcomes, tool calls, Box calls with 429s, IdP calls, cache results,
//! rate-limit refusals) with the counts the sequence implies, and no label that
//! holds a token, a subject or an argument value.

use std::collections::BTreeMap;

use box_sandbox::{FaultSpec, fixture};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::box_env::{BoxAuth, BoxEnv, BoxMode};

/// One sample: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            (name.to_string(), labels, value.parse().unwrap())
        })
        .collect()
}

/// The sum of `name`'s samples whose labels include all of `labels`.
fn sum(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[tokio::test]
async fn each_metric_family_counts_a_scripted_sequence() {
    let env = BoxEnv::start_with(
        BoxMode::PerUser,
        BoxAuth::Ccg,
        &[
            ("BOX_MCP_RATE_LIMIT__FAILED_TOKENS__BURST", "2"),
            ("BOX_MCP_RATE_LIMIT__FAILED_TOKENS__PER_SECOND", "0.01"),
            ("BOX_MCP_BOX__API_RETRY_MAX_ELAPSED", "5s"),
        ],
    )
    .await;
    let server = &env.server;
    let scrape = || async {
        let reply = server
            .http
            .get(format!("{}/metrics", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        reply.text().await.unwrap()
    };
    // Readiness already fetched discovery and the JWKS once each.
    let before = parse(&scrape().await);

    // Alice: a session, a listing, whoami, and a Box folder listing twice (the
    // second reuses the downscoped token), the second time after one 429 from Box.
    let alice = env.alice().await;
    let listed = server
        .rpc(
            &alice.token,
            alice.session.as_deref(),
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    alice.ok("whoami", json!({})).await;
    alice
        .ok(
            "box_folder_list",
            json!({"folder_id": fixture::ALICE_PRIVATE_FOLDER}),
        )
        .await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/2.0/folders/".into()),
            times: Some(1),
            status: Some(429),
            retry_after: Some(1),
            ..Default::default()
        })
        .unwrap();
    alice
        .ok(
            "box_folder_list",
            json!({"folder_id": fixture::ALICE_PRIVATE_FOLDER}),
        )
        .await;
    // A tool the caller may not see, and one that fails at Box.
    let unknown = alice
        .call_raw(
            "no_such_tool",
            json!({"name": "no_such_tool", "arguments": {}}),
        )
        .await;
    assert!(unknown.rpc.get("error").is_some(), "{:?}", unknown.rpc);
    let missing = alice
        .call("box_folder_list", json!({"folder_id": "99999999999"}))
        .await;
    assert!(missing.is_error(), "{:?}", missing.rpc);

    // Authentication (last: the throttle holds the whole address): one without a token, three forged (refused after a signature
    // check), then a fourth throttled before verification.
    let forged = crate::common::TestKey::generate("key-1")
        .sign(&env.issuer.claims(&server.resource, "mallory"));
    let no_token = server
        .mcp_raw(Method::POST, None, None, Some(&json!({})))
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    for expected in [401, 401, 401, 429] {
        let reply = server
            .mcp_raw(Method::POST, Some(&forged), None, Some(&json!({})))
            .await;
        assert_eq!(reply.status.as_u16(), expected, "{}", reply.body);
    }

    let text = scrape().await;
    let after = parse(&text);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sum(&after, name, labels) - sum(&before, name, labels)
    };

    // Requests by route and status.
    assert_eq!(
        delta(
            "box_mcp_http_requests_total",
            &[("route", "/mcp"), ("status", "401")]
        ),
        4.0
    );
    assert_eq!(
        delta(
            "box_mcp_http_requests_total",
            &[("route", "/mcp"), ("status", "429")]
        ),
        1.0
    );
    assert!(
        delta(
            "box_mcp_http_requests_total",
            &[("route", "/mcp"), ("status", "200")]
        ) >= 6.0
    );
    assert_eq!(
        delta("box_mcp_http_requests_total", &[("route", "/metrics")]),
        1.0
    );
    assert!(
        sum(
            &after,
            "box_mcp_http_request_duration_seconds_count",
            &[("route", "/mcp")]
        ) >= 10.0
    );

    // Authentication outcomes by reason.
    assert_eq!(
        delta("box_mcp_auth_total", &[("outcome", "missing_token")]),
        1.0
    );
    assert_eq!(
        delta("box_mcp_auth_total", &[("outcome", "bad_signature")]),
        3.0
    );
    assert_eq!(
        delta("box_mcp_auth_total", &[("outcome", "rate_limited")]),
        1.0
    );
    assert!(delta("box_mcp_auth_total", &[("outcome", "ok")]) >= 6.0);

    // Tool calls by tool and outcome, with latency.
    assert_eq!(
        delta(
            "box_mcp_tool_calls_total",
            &[("tool", "whoami"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "box_mcp_tool_calls_total",
            &[("tool", "box_folder_list"), ("outcome", "ok")]
        ),
        2.0
    );
    assert_eq!(
        delta(
            "box_mcp_tool_calls_total",
            &[("tool", "box_folder_list"), ("outcome", "error")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "box_mcp_tool_calls_total",
            &[("tool", "unknown"), ("outcome", "refused")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "box_mcp_tool_call_duration_seconds_count",
            &[("tool", "box_folder_list")]
        ),
        3.0
    );

    // Box calls by endpoint and status, the 429 included (one attempt, then a retry).
    let items = "GET /2.0/folders/{}/items";
    assert_eq!(
        delta(
            "box_mcp_box_requests_total",
            &[("endpoint", items), ("status", "429")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "box_mcp_box_requests_total",
            &[("endpoint", items), ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        delta(
            "box_mcp_box_requests_total",
            &[
                ("endpoint", "POST /oauth2/token token_exchange"),
                ("status", "200")
            ]
        ),
        1.0,
        "one downscoped token for the private folder, reused"
    );
    assert_eq!(
        delta(
            "box_mcp_box_requests_total",
            &[
                ("endpoint", "POST /oauth2/token token_exchange"),
                ("status", "400")
            ]
        ),
        1.0,
        "Box refuses to downscope to an item that does not exist"
    );
    assert_eq!(
        delta(
            "box_mcp_box_request_duration_seconds_count",
            &[("endpoint", items)]
        ),
        3.0
    );

    // IdP calls: discovery and JWKS at start (before the sequence).
    assert!(
        sum(
            &after,
            "box_mcp_idp_requests_total",
            &[("call", "discovery"), ("status", "200")]
        ) >= 1.0
    );
    assert!(
        sum(
            &after,
            "box_mcp_idp_requests_total",
            &[("call", "jwks"), ("status", "200")]
        ) >= 1.0
    );
    assert!(
        sum(
            &after,
            "box_mcp_idp_request_duration_seconds_count",
            &[("call", "jwks")]
        ) >= 1.0
    );

    // Cache results: tokens (the forged one's repeat is answered from the refusal
    // memory, not this cache), decisions, Box credentials.
    assert!(
        delta(
            "box_mcp_cache_requests_total",
            &[("cache", "tokens"), ("result", "hit")]
        ) >= 5.0
    );
    assert!(
        delta(
            "box_mcp_cache_requests_total",
            &[("cache", "tokens"), ("result", "miss")]
        ) >= 3.0
    );
    assert!(
        delta(
            "box_mcp_cache_requests_total",
            &[("cache", "decisions"), ("result", "hit")]
        ) >= 1.0
    );
    assert_eq!(
        delta(
            "box_mcp_cache_requests_total",
            &[("cache", "box_credentials"), ("result", "hit")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "box_mcp_cache_requests_total",
            &[("cache", "box_credentials"), ("result", "miss")]
        ),
        2.0
    );

    // Rate-limit refusals by limit.
    assert_eq!(
        delta("box_mcp_rate_limited_total", &[("limit", "failed_tokens")]),
        1.0
    );

    // The gauges are still there.
    assert!(text.contains("box_mcp_policy_generation 1"), "{text}");
    assert!(text.contains("box_mcp_issuer_keys 1"), "{text}");

    // No label holds a token, a subject, an id or an argument value.
    for needle in [
        alice.token.as_str(),
        forged.as_str(),
        "alice",
        "mallory",
        fixture::ALICE_PRIVATE_FOLDER,
        "99999999999",
        "no_such_tool",
        "eyJ",
    ] {
        assert!(!text.contains(needle), "{needle:?} in /metrics");
    }
    drop(alice);
    env.stop().await;
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let f = crate::common::Fixture::start(&[("BOX_MCP_METRICS__ENABLED", "false")]).await;
    let reply = f
        .server
        .http
        .get(format!("{}/metrics", f.server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::NOT_FOUND);
}
