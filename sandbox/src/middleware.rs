//! The two middleware layers every API call passes through, above the shared
//! state: injected faults ([`crate::faults`]) and the request log
//! ([`crate::request_log`]). They live here, not beside their data, because they
//! need the whole [`AppState`], which in turn holds the faults and the log.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};

use crate::{
    caller::{AS_USER, bearer},
    clock,
    faults::fault_response,
    request_log::{FaultApplied, LogEntry, OAuthInfo, TokenInfo, redact_query},
    state::AppState,
};

fn token_info(state: &AppState, raw: &str, as_user: Option<String>) -> TokenInfo {
    let tokens = state.tokens();
    let valid = tokens.validate(raw).is_ok();
    match tokens.peek(raw) {
        Some(r) => TokenInfo {
            fingerprint: r.fingerprint.clone(),
            valid,
            kind: Some(r.kind),
            subject: Some(r.user.clone()),
            subject_type: Some(r.subject_type),
            scopes: r.scopes.iter().cloned().collect(),
            restricted_to: r.restricted_to.clone(),
            client_id: Some(r.client_id.clone()),
            parent: r.parent.clone(),
            as_user,
        },
        None => TokenInfo {
            fingerprint: crate::tokens::fingerprint(raw),
            valid: false,
            kind: None,
            subject: None,
            subject_type: None,
            scopes: Vec::new(),
            restricted_to: None,
            client_id: None,
            parent: None,
            as_user,
        },
    }
}

/// Middleware: record each call (except control endpoints) after it is answered.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox") {
        return next.run(req).await;
    }
    let method = req.method().to_string();
    let query = redact_query(req.uri().query());
    let as_user = req
        .headers()
        .get(AS_USER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let token = bearer(req.headers()).map(|raw| token_info(&state, raw, as_user.clone()));
    let response = next.run(req).await;
    state.log.push(LogEntry {
        seq: 0,
        at: clock::now(),
        method,
        path,
        query,
        status: response.status().as_u16(),
        token,
        as_user,
        oauth: response.extensions().get::<OAuthInfo>().cloned(),
        fault: response.extensions().get::<FaultApplied>().map(|f| f.0),
        handled_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
    });
    response
}

/// Middleware: apply matching faults (never to control endpoints).
pub async fn inject(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_sandbox") {
        return next.run(req).await;
    }
    let outcome = state.faults().take(req.method().as_str(), &path);
    if !outcome.latency.is_zero() {
        tokio::time::sleep(outcome.latency).await;
    }
    let mut response = match &outcome.respond {
        Some((_, spec)) => fault_response(&path, spec),
        None => next.run(req).await,
    };
    if let Some(id) = outcome.applied {
        response.extensions_mut().insert(FaultApplied(id));
    }
    response
}
