//! OpenTelemetry over OTLP: with `trace.otlp_endpoint` set, the request spans go to
//! the collector (here a local OTLP/HTTP JSON receiver); a client's `traceparent`
//! header puts the request in the client's trace, and a `tools/call` whose `_meta`
//! carries a `traceparent` gets its span in that trace. Off by default.

use std::sync::{Arc, Mutex};

use axum::{Router, body::Bytes, extract::State, routing::post};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Fixture, TestIssuer, TestKey, issuer::Mode, server::ServerProcess};

/// A collector that keeps every export it is sent.
async fn collector() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(
            "/v1/traces",
            post(
                |State(seen): State<Arc<Mutex<Vec<String>>>>, body: Bytes| async move {
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    "{}"
                },
            ),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn request_and_tool_spans_are_exported_in_the_callers_traces() {
    let (endpoint, received) = collector().await;
    let key = TestKey::generate("key-1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    let server =
        ServerProcess::start(&issuer.url, &[("BOX_MCP_TRACE__OTLP_ENDPOINT", &endpoint)]).await;
    server.wait_ready(std::time::Duration::from_secs(10)).await;
    let token = key.sign(&issuer.claims(&server.resource, "alice"));

    // The HTTP request's trace context.
    let header_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let session = server.initialize(&token).await;
    let reply = server
        .http
        .post(&server.resource)
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("mcp-session-id", session.as_deref().unwrap())
        .header(
            "traceparent",
            format!("00-{header_trace}-00f067aa0ba902b7-01"),
        )
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    // A tools/call whose _meta names another trace.
    let meta_trace = "0af7651916cd43dd8448eb211c80319c";
    let call = server
        .rpc(
            &token,
            session.as_deref(),
            "tools/call",
            json!({"name": "whoami", "arguments": {},
                   "_meta": {"traceparent": format!("00-{meta_trace}-b7ad6b7169203331-01")}}),
        )
        .await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.body);
    let logs = server.stop().await;

    let exported = received.lock().unwrap().join("\n");
    assert!(
        !exported.is_empty(),
        "nothing was exported; logs: {logs:#?}"
    );
    let exported: String = exported.split_whitespace().collect();
    assert!(exported.contains(r#""name":"request""#), "{exported}");
    assert!(exported.contains(r#""name":"tools/call""#), "{exported}");
    assert!(
        exported.contains(header_trace),
        "the request joined the client's trace"
    );
    assert!(
        exported.contains(meta_trace),
        "the tool call joined the _meta trace"
    );
    assert!(exported.contains("box-mcp"), "service.name");
    assert!(
        !exported.contains(&token) && !exported.contains("eyJ"),
        "no token in a span"
    );
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_exported_and_a_plain_http_one_off_loopback_is_refused() {
    let (endpoint, received) = collector().await;
    let f = Fixture::start(&[]).await;
    let _ = f
        .server
        .mcp_raw(Method::POST, Some(&f.token("alice")), None, None)
        .await;
    f.server.stop().await;
    assert!(received.lock().unwrap().is_empty(), "{endpoint}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .args(["config", "check"])
        .env_clear()
        .env(
            "BOX_MCP_TRACE__OTLP_ENDPOINT",
            "http://collector.example:4318/v1/traces",
        )
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trace.otlp_endpoint"), "{stderr}");
}
