//! Binds each `Mcp-Session-Id` to the subject that created it. rmcp's session
//! manager knows nothing about users, so without this anyone holding a session id
//! could use someone else's session. Another subject (or an id we never issued)
//! gets the same 404 as an unknown session.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use moka::sync::Cache;
use rmcp::transport::streamable_http_server::{
    SessionId, SessionManager as _, session::local::LocalSessionManager,
};

use super::ApiError;
use super::AppState;
use crate::auth::Principal;

pub const SESSION_HEADER: &str = "mcp-session-id";

/// Put on an `initialize` request by the body gate ([`super::tool_scopes`]): the
/// request that creates a session.
#[derive(Debug, Clone, Copy)]
pub struct Initialize;

/// session id → subject, and rmcp's session manager whose sessions these are.
///
/// Two caps are enforced when a session would be created, and no live session is
/// ever dropped to make room (an evicted binding would turn a working session into
/// a 404 for its owner, while rmcp still held it):
/// - `session.max_sessions` for the server: a new `initialize` beyond it gets 503
///   with `Retry-After`;
/// - `session.max_sessions_per_subject` for one user, so that one user (or one
///   stolen token) cannot hold every place: beyond it, 429.
///
/// A session holds at most one standalone SSE stream (a second GET replaces the
/// first in rmcp), and rmcp ends the session, and with it the stream, once neither
/// side has sent a message for `session.idle_timeout` (keep-alive pings do not
/// count). A binding outlives its session by up to a minute (it must never expire
/// first), so a caller at a cap first has the bindings of ended sessions dropped:
/// an idle session gives its place back as soon as it ends.
pub struct SessionBindings {
    manager: Arc<LocalSessionManager>,
    owners: Cache<String, Arc<str>>,
    /// The sessions bound to each subject; kept by the cache's eviction listener,
    /// so an expiry, a DELETE and a sweep all give the place back.
    per_subject: Arc<Mutex<PerSubject>>,
    /// When the whole map was last swept for ended sessions (at most every
    /// [`SWEEP_EVERY`], since a sweep reads every binding).
    last_sweep: Mutex<Option<Instant>>,
    max_sessions: u64,
    max_per_subject: u32,
}

const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Why a session may not be created now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRoom {
    Server,
    Subject,
}

type PerSubject = HashMap<Arc<str>, HashSet<Arc<String>>>;

fn lock(map: &Mutex<PerSubject>) -> std::sync::MutexGuard<'_, PerSubject> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SessionBindings {
    pub fn new(idle_timeout: Duration, max_sessions: u64, max_per_subject: u32) -> Self {
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(idle_timeout);
        let per_subject: Arc<Mutex<PerSubject>> = Arc::default();
        let counts = Arc::clone(&per_subject);
        Self {
            manager: Arc::new(manager),
            owners: Cache::builder()
                .time_to_idle(idle_timeout + Duration::from_secs(60))
                .eviction_listener(move |session: Arc<String>, subject: Arc<str>, _cause| {
                    let mut counts = lock(&counts);
                    if let Some(sessions) = counts.get_mut(&subject) {
                        sessions.remove(&session);
                        if sessions.is_empty() {
                            counts.remove(&subject);
                        }
                    }
                })
                .build(),
            per_subject,
            last_sweep: Mutex::new(None),
            max_sessions,
            max_per_subject,
        }
    }

    /// rmcp's session manager (the MCP service's store of sessions).
    pub fn manager(&self) -> Arc<LocalSessionManager> {
        Arc::clone(&self.manager)
    }

    fn owner(&self, session: &str) -> Option<Arc<str>> {
        self.owners.get(session)
    }

    /// Sessions bound now (approximate: expiries are settled lazily).
    pub fn bound(&self) -> u64 {
        self.owners.entry_count()
    }

    fn bind(&self, session: String, subject: &str) {
        let session = Arc::new(session);
        let subject: Arc<str> = Arc::from(subject);
        lock(&self.per_subject)
            .entry(Arc::clone(&subject))
            .or_default()
            .insert(Arc::clone(&session));
        self.owners.insert(Arc::unwrap_or_clone(session), subject);
    }

    fn held_by(&self, subject: &str) -> Vec<Arc<String>> {
        lock(&self.per_subject)
            .get(subject)
            .map(|sessions| sessions.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops the bindings among `sessions` whose rmcp session has ended.
    async fn drop_ended(&self, sessions: impl IntoIterator<Item = Arc<String>>) {
        for session in sessions {
            let id: SessionId = Arc::from(session.as_str());
            if !self.manager.has_session(&id).await.unwrap_or(true) {
                self.owners.invalidate(session.as_str());
            }
        }
        self.owners.run_pending_tasks();
    }

    /// Whether `subject` may create another session now.
    async fn room_for(&self, subject: &str) -> Result<(), NoRoom> {
        // The counts lag behind inserts, expiries and removals; settle them first
        // (only an `initialize` asks, so this is not on the path of other requests).
        self.owners.run_pending_tasks();
        if self.owners.entry_count() >= self.max_sessions {
            let sweep = {
                let mut last = self
                    .last_sweep
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let due = last.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
                if due {
                    *last = Some(Instant::now());
                }
                due
            };
            if sweep {
                let all: Vec<Arc<String>> = self.owners.iter().map(|(id, _)| id).collect();
                self.drop_ended(all).await;
            }
            if self.owners.entry_count() >= self.max_sessions {
                return Err(NoRoom::Server);
            }
        }
        if self.held_by(subject).len() >= self.max_per_subject as usize {
            self.drop_ended(self.held_by(subject)).await;
            if self.held_by(subject).len() >= self.max_per_subject as usize {
                return Err(NoRoom::Subject);
            }
        }
        Ok(())
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
    if presented.is_none() && request.extensions().get::<Initialize>().is_some() {
        match state.sessions.room_for(&principal.subject).await {
            Ok(()) => {}
            Err(NoRoom::Server) => {
                tracing::warn!(
                    code = "too_many_sessions",
                    max = state.sessions.max_sessions,
                    "request refused: session.max_sessions are open"
                );
                return ApiError::TooManySessions.into_response_with(&state.challenge);
            }
            Err(NoRoom::Subject) => {
                tracing::info!(
                    code = "too_many_sessions_for_subject",
                    max = state.sessions.max_per_subject,
                    "request refused: the caller holds session.max_sessions_per_subject"
                );
                return ApiError::TooManySessionsForSubject(state.sessions.max_per_subject)
                    .into_response_with(&state.challenge);
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
                state.sessions.bind(created.to_string(), &principal.subject);
            }
        }
        Some(session) if is_delete && response.status().is_success() => {
            state.sessions.owners.invalidate(&session);
        }
        Some(_) => {}
    }
    response
}
