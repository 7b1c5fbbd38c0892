//! Binds each `Mcp-Session-Id` to the subject that created it. rmcp's session
//! manager knows nothing about users, so without this anyone holding a session id
//! could use someone else's session. Another subject (or an id we never issued)
//! gets the same 404 as an unknown session.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use moka::sync::Cache;

use super::ApiError;
use super::AppState;
use crate::auth::Principal;

pub const SESSION_HEADER: &str = "mcp-session-id";

/// session id → subject. Entries expire a little after rmcp's own idle timeout,
/// so a live session never loses its binding first.
pub struct SessionBindings {
    owners: Cache<String, Arc<str>>,
}

impl SessionBindings {
    pub fn new(idle_timeout: Duration, max_sessions: u64) -> Self {
        Self {
            owners: Cache::builder()
                .max_capacity(max_sessions)
                .time_to_idle(idle_timeout + Duration::from_secs(60))
                .build(),
        }
    }

    fn owner(&self, session: &str) -> Option<Arc<str>> {
        self.owners.get(session)
    }
}

pub async fn bind_session(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(principal) = request.extensions().get::<Arc<Principal>>().cloned() else {
        // The authentication layer always runs first; refuse rather than guess.
        return ApiError::MissingToken.into_response_with(&state.challenge);
    };
    let presented = request
        .headers()
        .get(SESSION_HEADER)
        .map(|v| v.to_str().unwrap_or_default().to_string());
    if let Some(session) = &presented {
        match state.sessions.owner(session) {
            Some(owner) if *owner == *principal.subject => {}
            _ => {
                tracing::info!(code = "session_not_found", "request refused");
                return ApiError::SessionNotFound.into_response_with(&state.challenge);
            }
        }
    }
    let is_delete = request.method() == Method::DELETE;
    let response = next.run(request).await;

    match presented {
        None => {
            if let Some(created) = response
                .headers()
                .get(SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
            {
                state
                    .sessions
                    .owners
                    .insert(created.to_string(), Arc::from(principal.subject.as_str()));
            }
        }
        Some(session) if is_delete && response.status().is_success() => {
            state.sessions.owners.invalidate(&session);
        }
        Some(_) => {}
    }
    response
}
