//! Invariant: no token, signature segment or Authorization value ever appears in
//! a log line. A run with valid and invalid tokens at the most verbose log level,
//! every line of stdout and stderr captured.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{self, Fixture, TestKey, now};

#[tokio::test]
async fn no_token_or_authorization_value_reaches_the_logs() {
    let f = Fixture::start(&[("BOX_MCP_LOG__LEVEL", "trace")]).await;
    let claims = f.issuer.claims(&f.server.resource, "alice");
    let forged_none = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","kid":"key-1"}"#),
        B64.encode(serde_json::to_vec(&claims).unwrap())
    );
    let tokens = vec![
        f.token("alice"),
        f.token("bob"),
        f.token_with("carol", |c| c["exp"] = json!(now() - 3600)),
        f.token_with("dave", |c| {
            c["aud"] = json!("https://elsewhere.example/mcp")
        }),
        TestKey::generate("key-1").sign(&claims),
        TestKey::generate("unknown-kid").sign(&claims),
        forged_none,
        "opaque-secret-token-value-0123456789".to_string(),
    ];

    for token in &tokens {
        let _ = f
            .server
            .mcp_raw(
                Method::POST,
                Some(token),
                None,
                Some(&common::server::initialize_request()),
            )
            .await;
    }
    // The valid ones also do a full session and a tool call.
    assert_eq!(f.server.whoami(&tokens[0]).await["subject"], "alice");
    assert_eq!(f.server.whoami(&tokens[1]).await["subject"], "bob");
    // A token in the query string, and a malformed header holding a token.
    let _ = f
        .server
        .http
        .post(format!("{}?access_token={}", f.server.resource, tokens[0]))
        .send()
        .await;
    let _ = f
        .server
        .http
        .post(&f.server.resource)
        .header("authorization", format!("Bearer {} extra", tokens[1]))
        .send()
        .await;
    // A client-chosen request id is replaced, never logged.
    let _ = f
        .server
        .http
        .post(&f.server.resource)
        .header("x-request-id", &tokens[0])
        .bearer_auth(&tokens[0])
        .json(&common::server::initialize_request())
        .send()
        .await;

    let logs = f.server.stop().await;
    let all = logs.join("\n");
    // The capture is real: requests, refusals and successes were all logged.
    assert!(logs.len() > 20, "too few log lines: {}", logs.len());
    assert!(
        all.contains("request refused") && all.contains("invalid_token"),
        "refusals are logged"
    );
    assert!(
        all.contains("\"subject\":\"alice\""),
        "accepted requests are logged with their subject"
    );
    assert!(all.contains("request_id"), "lines carry the request id");

    for token in &tokens {
        assert!(
            !all.contains(token.as_str()),
            "a whole token appears in the logs"
        );
        for segment in token.split('.').filter(|s| s.len() >= 16) {
            assert!(
                !all.contains(segment),
                "a token segment appears in the logs: {segment}"
            );
        }
    }
    assert!(
        !all.to_ascii_lowercase().contains("bearer "),
        "an Authorization value appears in the logs"
    );
}

/// Quiet logs: at `info`, a stateless request writes one access line, not rmcp's
/// per-request lines and its dump of the client's details; a `tools/list` also
/// writes its audit event (which `log.audit_file` can send elsewhere).
#[tokio::test]
async fn a_stateless_request_at_info_writes_one_line() {
    let f = Fixture::start(&[
        ("BOX_MCP_LOG__LEVEL", "info"),
        ("BOX_MCP_STATELESS", "true"),
    ])
    .await;
    let token = f.token("alice");
    let before = f.server.logs().len();
    let reply = f
        .server
        .mcp_raw(
            Method::POST,
            Some(&token),
            None,
            Some(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})),
        )
        .await;
    assert_eq!(reply.status, reqwest::StatusCode::OK, "{}", reply.body);
    // Let the last line reach the log.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let lines: Vec<String> = f.server.logs()[before..].to_vec();
    assert!(
        lines.iter().all(|l| !l.contains("\"target\":\"rmcp")),
        "no rmcp lines at info: {lines:#?}"
    );
    let (audit, access): (Vec<&String>, Vec<&String>) = lines
        .iter()
        .partition(|l| l.contains("\"target\":\"box_mcp::audit\""));
    assert_eq!(access.len(), 1, "one access line: {lines:#?}");
    let line: Value = serde_json::from_str(access[0]).unwrap();
    assert_eq!(line["target"], "box_mcp::access", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(line["latency_us"].as_u64().is_some(), "{line}");
    let request = &line["span"];
    for field in ["request_id", "client", "subject", "path", "method"] {
        assert!(request[field].is_string(), "{field}: {line}");
    }
    assert_eq!(request["subject"], "alice", "{line}");
    assert!(
        access[0].len() <= 320,
        "{} bytes: {}",
        access[0].len(),
        access[0]
    );
    assert_eq!(audit.len(), 1, "one audit event: {lines:#?}");
    let event: Value = serde_json::from_str(audit[0]).unwrap();
    assert_eq!(event["event"], "tools_listed", "{event}");
    assert_eq!(event["subject"], "alice", "{event}");
    assert!(event["request_id"].is_string(), "{event}");
    assert!(event["client"].is_string(), "{event}");
    // Its own fields, not the request span's again.
    assert!(event.get("span").is_none(), "{event}");
}
