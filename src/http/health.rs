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
    let body = json!({
        "ready": status == StatusCode::OK,
        "issuer": state.issuer,
        "keys": readiness,
    });
    (status, Json(body))
}
