//! What one request to `/mcp` may hold: a place among `http.max_concurrent_requests`
//! (one more is refused at once with 503 and `Retry-After`, rather than queued
//! behind the others), for at most `http.request_timeout` (then 503). The time runs
//! to the response's headers: over SSE a tool call's own bound is `box.tool_timeout`.
//!
//! Our own middleware rather than tower's `ConcurrencyLimit`, which makes requests
//! wait for a place (a queue an overload only lengthens) and needs a load-shed
//! layer and an error mapping to answer at once.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use tokio::sync::Semaphore;

use super::{ApiError, AppState};

/// The places and the time limit, from `[http]`.
pub struct LoadLimit {
    places: Arc<Semaphore>,
    max: usize,
    timeout: Duration,
}

impl LoadLimit {
    pub fn new(max_concurrent_requests: usize, request_timeout: Duration) -> Self {
        Self {
            places: Arc::new(Semaphore::new(max_concurrent_requests)),
            max: max_concurrent_requests,
            timeout: request_timeout,
        }
    }
}

pub async fn limit_load(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limit = &state.load_limit;
    let Ok(place) = Arc::clone(&limit.places).try_acquire_owned() else {
        tracing::warn!(
            max = limit.max,
            "request refused: http.max_concurrent_requests are in progress"
        );
        return ApiError::Overloaded.into_response_with(&state.challenge);
    };
    let response = tokio::time::timeout(limit.timeout, next.run(request)).await;
    drop(place);
    match response {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout = ?limit.timeout,
                "request stopped: it ran longer than http.request_timeout"
            );
            ApiError::RequestTimeout(limit.timeout).into_response_with(&state.challenge)
        }
    }
}
