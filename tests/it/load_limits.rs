//! Bounded resources per request: a body that trickles in is cut off with 408
//! after `http.body_read_timeout`; requests beyond `http.max_concurrent_requests`
//! get 503 with `Retry-After` at once; a request that runs past
//! `http.request_timeout` is stopped with 503.

use std::time::{Duration, Instant};

use box_sandbox::{FaultSpec, fixture};
use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{
    Fixture,
    box_env::{BoxAuth, BoxEnv, BoxMode},
};

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_with_408() {
    let f = Fixture::start(&[("BOX_MCP_HTTP__BODY_READ_TIMEOUT", "1s")]).await;
    let token = f.token("alice");
    let addr = f.server.base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    // One byte every 200 ms: the body would take 12 s.
    for byte in body {
        if stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        if !answer.is_empty() {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_get_503_and_a_slow_one_is_stopped() {
    let env = BoxEnv::start_with(
        BoxMode::PerUser,
        BoxAuth::Ccg,
        &[
            ("BOX_MCP_STATELESS", "true"),
            ("BOX_MCP_HTTP__MAX_CONCURRENT_REQUESTS", "1"),
            ("BOX_MCP_HTTP__REQUEST_TIMEOUT", "2s"),
        ],
    )
    .await;
    let server = &env.server;
    let token = env.token("alice", Some(fixture::ALICE));
    // Box answers slowly: a stateless tools/call holds its request until the answer.
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/2.0/folders/".into()),
            latency_ms: Some(4000),
            ..Default::default()
        })
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "box_folder_list", "arguments": {"folder_id": fixture::ALICE_PRIVATE_FOLDER}}});
    let slow = {
        let (http, url, token, call) = (
            server.http.clone(),
            server.resource.clone(),
            token.clone(),
            call.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = post(&http, &url, &token, &call).await;
            let status = reply.status();
            (status, reply.text().await.unwrap(), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = post(&server.http, &server.resource, &token, &tools_list(2)).await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        second
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body["error"], "overloaded", "{body}");

    let (status, text, elapsed) = slow.await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
    // The place is free again.
    env.sandbox.clear_faults();
    let again = post(&server.http, &server.resource, &token, &tools_list(3)).await;
    assert_eq!(again.status(), StatusCode::OK);
    env.stop().await;
}

/// A stateless MCP POST of `body`.
async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .json(body)
        .send()
        .await
        .unwrap()
}

fn tools_list(id: u64) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}})
}
