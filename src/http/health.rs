//! `/healthz` (the process answers) and `/readyz` (the issuer's keys are loaded).

use std::sync::Arc;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use metrics::{counter, gauge};
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

/// `/metrics`: Prometheus text exposition. The state gauges are set from their
/// sources at each scrape; counters and histograms are recorded where things happen.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let Some(handle) = state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off (metrics.enabled)\n").into_response();
    };
    let policy = state.authorizer.status();
    let keys = match state.keys.readiness() {
        Readiness::Ready { keys, .. } => keys,
        Readiness::Starting { .. } => 0,
    };
    gauge!("box_mcp_policy_generation").set(policy.generation as f64);
    counter!("box_mcp_policy_reload_failures_total").absolute(policy.reload_failures);
    gauge!("box_mcp_policy_cached_decisions").set(policy.cached_decisions as f64);
    gauge!("box_mcp_issuer_keys").set(keys as f64);
    gauge!("box_mcp_verified_tokens_cached").set(state.verifier.cached_entries() as f64);
    gauge!("box_mcp_sessions").set(state.sessions.bound() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        handle.render(),
    )
        .into_response()
}
