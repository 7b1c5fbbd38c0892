//! `box-mcp-echo`: the load benchmark's floor. A minimal JSON-RPC server on
//! axum, on the same runtime settings as box-mcp: it parses each POSTed body as
//! a JSON-RPC request and answers a result naming its method. Nothing else: no
//! authentication, no MCP, no logging. Scenario 0 drives it with the very
//! requests scenario 3 sends box-mcp, so 3 against 0 is what box-mcp costs
//! above HTTP and JSON.
//!
//! It is started the way the benchmark starts box-mcp (`serve
//! --exit-on-stdin-close`, `BOX_MCP_LISTEN`), prints the same `listening` line,
//! answers `/readyz`, and exits when its stdin closes.

use axum::{Json, Router, http::StatusCode, routing::get, routing::post};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;

async fn echo(Json(request): Json<Value>) -> Result<Json<Value>, StatusCode> {
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .filter(|_| request.get("jsonrpc") == Some(&json!("2.0")))
        .ok_or(StatusCode::BAD_REQUEST)?;
    Ok(Json(json!({
        "jsonrpc": "2.0",
        "id": request.get("id").cloned().unwrap_or(Value::Null),
        "result": { "content": [{ "type": "text", "text": method }] },
    })))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::var("BOX_MCP_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!(
        "{}",
        json!({ "message": "listening", "addr": listener.local_addr()?.to_string() })
    );
    let app = Router::new()
        .route("/mcp", post(echo))
        .route("/readyz", get(|| async { "ready" }));
    // The benchmark stops its servers by closing their stdin.
    let stdin_closed = async {
        let mut sink = Vec::new();
        let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(stdin_closed)
        .await
}
