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

/// Put on an `initialize` request by the body gate ([`super::tool_scopes`]): the
/// request that creates a session.
#[derive(Debug, Clone, Copy)]
pub struct Initialize;

/// session id → subject. Entries expire a little after rmcp's own idle timeout,
/// so a live session never loses its binding first.
///
/// The cap (`session.max_sessions`) is enforced when a session would be created:
/// a new `initialize` beyond it gets 503 with `Retry-After`, and no live session
/// is ever dropped to make room (an evicted binding would turn a working session
/// into a 404 for its owner, while rmcp still held it).
pub struct SessionBindings {
    owners: Cache<String, Arc<str>>,
    max_sessions: u64,
}

impl SessionBindings {
    pub fn new(idle_timeout: Duration, max_sessions: u64) -> Self {
        Self {
            owners: Cache::builder()
                .time_to_idle(idle_timeout + Duration::from_secs(60))
                .build(),
            max_sessions,
        }
    }

    fn owner(&self, session: &str) -> Option<Arc<str>> {
        self.owners.get(session)
    }

    /// Sessions bound now (approximate: expiries are settled lazily).
    pub fn bound(&self) -> u64 {
        self.owners.entry_count()
    }

    /// Whether another session may be created now.
    fn has_room(&self) -> bool {
        // The count lags behind inserts, expiries and removals; settle it first (only
        // an `initialize` asks, so this is not on the path of other requests).
        self.owners.run_pending_tasks();
        self.owners.entry_count() < self.max_sessions
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
    // Only an `initialize` creates a session.
    if presented.is_none()
        && request.extensions().get::<Initialize>().is_some()
        && !state.sessions.has_room()
    {
        tracing::warn!(
            code = "too_many_sessions",
            max = state.sessions.max_sessions,
            "request refused: session.max_sessions are open"
        );
        return ApiError::TooManySessions.into_response_with(&state.challenge);
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
