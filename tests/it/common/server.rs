//! Runs the real `box-mcp` binary on a free loopback port, captures every line it
//! logs, and speaks MCP to it over HTTP.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

pub const PROTOCOL_VERSION: &str = "2025-06-18";

pub struct ServerProcess {
    pub base: String,
    pub resource: String,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
}

impl ServerProcess {
    /// Starts `box-mcp serve` with `env` (BOX_MCP_* settings) added to a test
    /// baseline, and waits for its "listening" line.
    pub async fn start(issuer: &str, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_box-mcp"));
        cmd.arg("serve")
            .arg("--exit-on-stdin-close")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BOX_MCP_LISTEN", "127.0.0.1:0")
            .env("BOX_MCP_AUTH__ISSUER", issuer)
            .env("BOX_MCP_AUTH__DISCOVERY_RETRY_INITIAL", "100ms")
            .env("BOX_MCP_AUTH__DISCOVERY_RETRY_MAX", "300ms")
            .env("BOX_MCP_LOG__LEVEL", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn box-mcp");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel::<String>();
        let mut addr_tx = Some(addr_tx);
        {
            let out_logs = logs.clone();
            let stdout = child.stdout.take().unwrap();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(v) = serde_json::from_str::<Value>(&line)
                        && v["message"] == "listening"
                        && let Some(tx) = addr_tx.take()
                    {
                        let _ = tx.send(v["addr"].as_str().unwrap_or_default().to_string());
                    }
                    out_logs.lock().unwrap().push(line);
                }
            });
            let err_logs = logs.clone();
            let stderr = child.stderr.take().unwrap();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    err_logs.lock().unwrap().push(line);
                }
            });
        }
        let addr = tokio::time::timeout(Duration::from_secs(20), addr_rx)
            .await
            .unwrap_or_else(|_| panic!("box-mcp did not start; logs: {:?}", logs.lock().unwrap()))
            .expect("listening line");
        let base = format!("http://{addr}");
        Self {
            resource: format!("{base}/mcp"),
            base,
            child,
            logs,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                // Below box-mcp's keep-alive cut (`http.header_read_timeout`): a pooled
                // connection the server closed meanwhile would fail the next request.
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        }
    }

    /// The same server reached over TLS (`tls.*` set at start), trusting `ca_pem`.
    pub fn over_tls(mut self, ca_pem: &str) -> Self {
        self.base = self.base.replacen("http://", "https://", 1);
        self.resource = format!("{}/mcp", self.base);
        self.http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .pool_idle_timeout(Duration::from_secs(5))
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap()])
            .build()
            .unwrap();
        self
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Stops the process and returns everything it logged.
    pub async fn stop(mut self) -> Vec<String> {
        drop(self.child.stdin.take()); // --exit-on-stdin-close: a clean shutdown
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        let _ = self.child.kill().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.logs()
    }

    /// Waits until `/readyz` says ready.
    pub async fn wait_ready(&self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let r = self
                .http
                .get(format!("{}/readyz", self.base))
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::OK {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server not ready: {}",
                r.text().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A raw request to `/mcp`.
    pub async fn mcp_raw(
        &self,
        method: Method,
        token: Option<&str>,
        session: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, &self.resource)
            .header("accept", "application/json, text/event-stream");
        // Clients send the negotiated version on every request after initialize.
        if body.is_none_or(|b| b["method"] != "initialize") {
            req = req.header("mcp-protocol-version", PROTOCOL_VERSION);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(s) = session {
            req = req.header("mcp-session-id", s);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Reply::read(req.send().await.expect("request")).await
    }

    /// `initialize` + `notifications/initialized`; returns the session id.
    pub async fn initialize(&self, token: &str) -> Option<String> {
        self.initialize_with(token, json!({})).await
    }

    /// As [`ServerProcess::initialize`], declaring the client `capabilities`.
    pub async fn initialize_with(&self, token: &str, capabilities: Value) -> Option<String> {
        let mut request = initialize_request();
        request["params"]["capabilities"] = capabilities;
        let reply = self
            .mcp_raw(Method::POST, Some(token), None, Some(&request))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "initialize: {}", reply.body);
        assert!(reply.json_rpc().get("result").is_some(), "{}", reply.body);
        let session = reply.header("mcp-session-id");
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let ack = self
            .mcp_raw(Method::POST, Some(token), session.as_deref(), Some(&note))
            .await;
        assert_eq!(
            ack.status,
            StatusCode::ACCEPTED,
            "initialized: {}",
            ack.body
        );
        session
    }

    /// A JSON-RPC request in a session; returns the reply.
    pub async fn rpc(
        &self,
        token: &str,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Reply {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        self.mcp_raw(Method::POST, Some(token), session, Some(&body))
            .await
    }

    /// `tools/call whoami` in a fresh session; returns the structured result.
    pub async fn whoami(&self, token: &str) -> Value {
        let session = self.initialize(token).await;
        let reply = self
            .rpc(
                token,
                session.as_deref(),
                "tools/call",
                json!({"name": "whoami", "arguments": {}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.json_rpc()["result"]["structuredContent"].clone()
    }
}

pub fn initialize_request() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "box-mcp-tests", "version": "0"}
        }
    })
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    /// Asserts a 401 `invalid_token` answer whose challenge names the failed
    /// check (`description_contains`) and points at the metadata.
    pub fn assert_invalid_token(&self, description_contains: &str) {
        assert_eq!(self.status, StatusCode::UNAUTHORIZED, "{}", self.body);
        let challenge = self.www_authenticate();
        assert!(
            challenge.starts_with(r#"Bearer error="invalid_token", error_description=""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(description_contains),
            "expected {description_contains:?} in {challenge}"
        );
        assert!(challenge.contains("resource_metadata=\""), "{challenge}");
        assert_eq!(self.json()["error"], "invalid_token");
    }

    pub fn www_authenticate(&self) -> String {
        self.header("www-authenticate").unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The JSON-RPC message of a JSON or SSE reply (the one with an `id`).
    pub fn json_rpc(&self) -> Value {
        if self
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream"))
        {
            self.body
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
                .find(|v| v.get("id").is_some())
                .unwrap_or_else(|| panic!("no JSON-RPC message in: {}", self.body))
        } else {
            self.json()
        }
    }
}
