//! A stand-in for Keycloak's side of linked Box accounts, for scenario 7: the
//! standard token exchange (the caller's token for box-mcp's) and the broker
//! endpoint answering the caller's stored Box token. Keycloak itself is not in the
//! benchmark (it runs only under scripts/test.sh); with warm caches box-mcp calls
//! neither endpoint, which is what scenario 7 measures.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use box_sandbox::{Sandbox, fixture};
use serde_json::{Value, json};

pub const CLIENT_ID: &str = "box-mcp";
pub const CLIENT_SECRET: &str = "loadbench-linked-secret";

struct Stored {
    /// The Box token every linked caller gets (alice's, from the sandbox).
    box_token: String,
}

pub struct LinkedIdp {
    pub base: String,
}

impl LinkedIdp {
    pub async fn start(sandbox: &Sandbox) -> anyhow::Result<Self> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", fixture::CCG_CLIENT_ID),
            ("client_secret", fixture::CCG_CLIENT_SECRET),
            ("box_subject_type", "user"),
            ("box_subject_id", fixture::ALICE),
        ];
        let body: Value = reqwest::Client::new()
            .post(sandbox.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&"),
            )
            .send()
            .await?
            .json()
            .await?;
        let box_token = body["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no Box token from the sandbox: {body}"))?
            .to_string();
        let state = Arc::new(Stored { box_token });
        let app = Router::new()
            .route("/protocol/openid-connect/token", post(exchange))
            .route("/broker/box/token", get(stored))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base })
    }

    /// The server settings of linked accounts at this IdP.
    pub fn server_env(&self) -> Vec<(String, String)> {
        [
            ("BOX_MCP_BOX__PER_USER_TOKEN", "linked".to_string()),
            ("BOX_MCP_BOX__LINKED__CLIENT_ID", CLIENT_ID.to_string()),
            (
                "BOX_MCP_BOX__LINKED__CLIENT_SECRET",
                CLIENT_SECRET.to_string(),
            ),
            (
                "BOX_MCP_BOX__LINKED__TOKEN_URL",
                format!("{}/protocol/openid-connect/token", self.base),
            ),
            (
                "BOX_MCP_BOX__LINKED__BROKER_TOKEN_URL",
                format!("{}/broker/box/token", self.base),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

async fn exchange(Form(form): Form<HashMap<String, String>>) -> Response {
    if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"access_token": "box-mcp-token", "expires_in": 300})).into_response()
}

async fn stored(State(s): State<Arc<Stored>>, headers: HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer box-mcp-token") {
        return StatusCode::FORBIDDEN.into_response();
    }
    Json(json!({"access_token": s.box_token, "expires_in": 3600})).into_response()
}
