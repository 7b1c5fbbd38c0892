//! `/healthz` (the process answers) and `/readyz` (the issuer's keys are loaded).

use std::sync::Arc;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde_json::json;

use super::AppState;
use crate::auth::Readiness;

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let readiness = state.keys.readiness();
    let status = match readiness {
        Readiness::Ready { .. } => StatusCode::OK,
        Readiness::Starting { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    // A failed policy reload keeps the last good policy: still ready, but said here.
    let body = json!({
        "ready": status == StatusCode::OK,
        "issuer": state.issuer,
        "keys": readiness,
        "policy": state.authorizer.status(),
    });
    (status, Json(body))
}

/// `/metrics`: Prometheus text exposition of the server's own state.
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let policy = state.authorizer.status();
    let keys = match state.keys.readiness() {
        Readiness::Ready { keys, .. } => keys,
        Readiness::Starting { .. } => 0,
    };
    let body = format!(
        "# HELP box_mcp_policy_generation Successful loads of the tool policy.\n\
         # TYPE box_mcp_policy_generation gauge\n\
         box_mcp_policy_generation {}\n\
         # HELP box_mcp_policy_reload_failures_total Policy reloads that failed (the last good policy stayed).\n\
         # TYPE box_mcp_policy_reload_failures_total counter\n\
         box_mcp_policy_reload_failures_total {}\n\
         # HELP box_mcp_policy_cached_decisions Decisions cached for the policy in force.\n\
         # TYPE box_mcp_policy_cached_decisions gauge\n\
         box_mcp_policy_cached_decisions {}\n\
         # HELP box_mcp_issuer_keys Signing keys loaded from the issuer's JWKS.\n\
         # TYPE box_mcp_issuer_keys gauge\n\
         box_mcp_issuer_keys {}\n\
         # HELP box_mcp_verified_tokens_cached Verified access tokens in the cache.\n\
         # TYPE box_mcp_verified_tokens_cached gauge\n\
         box_mcp_verified_tokens_cached {}\n",
        policy.generation,
        policy.reload_failures,
        policy.cached_decisions,
        keys,
        state.verifier.cached_entries(),
    );
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
}
