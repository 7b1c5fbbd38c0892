//! Control endpoints under `/_sandbox/…`, for tests: the request log, faults,
//! reset, token expiry and the download mode. Refused unless the peer is loopback.

use std::net::{IpAddr, SocketAddr};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{ConnectInfo, RawQuery, Request, State},
    http::StatusCode,
    middleware::{Next, from_fn},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{downloads::DownloadMode, faults::FaultSpec, paging::Query, state::AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests", get(requests).delete(clear_requests))
        .route("/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/reset", post(reset))
        .route("/tokens/expire", post(expire_tokens))
        .route("/refresh_tokens/expire", post(expire_refresh_tokens))
        .route("/grants/revoke", post(revoke_grants))
        .route("/downloads", get(download_mode).put(set_download_mode))
        .route("/info", get(info))
        .fallback(|| async { control_error(StatusCode::NOT_FOUND, "no such control endpoint") })
        .layer(from_fn(loopback_only))
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Whether an address is loopback (IPv4, IPv6, or IPv4-mapped IPv6).
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
    }
}

async fn loopback_only(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(ip) if is_loopback(ip) => next.run(req).await,
        _ => control_error(
            StatusCode::FORBIDDEN,
            "control endpoints are only served to loopback peers",
        ),
    }
}

/// A JSON body; an empty body means the defaults.
fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

/// `GET /_sandbox/requests[?since=SEQ]`
async fn requests(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let q = Query::parse(q.as_deref());
    let since = match q.number("since") {
        Ok(s) => s.unwrap_or(0) as u64,
        Err(_) => return control_error(StatusCode::BAD_REQUEST, "since must be a number"),
    };
    Json(json!({"entries": state.log.entries(since)})).into_response()
}

/// `DELETE /_sandbox/requests`
async fn clear_requests(State(state): State<AppState>) -> StatusCode {
    state.log.clear();
    StatusCode::NO_CONTENT
}

/// `GET /_sandbox/faults`
async fn faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"entries": state.faults().list()}))
}

/// `POST /_sandbox/faults` with a [`FaultSpec`].
async fn add_fault(State(state): State<AppState>, body: Bytes) -> Response {
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, &format!("invalid fault: {e}")),
    };
    match state.faults().add(spec) {
        Ok(fault) => (StatusCode::CREATED, Json(json!(fault))).into_response(),
        Err(e) => control_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `DELETE /_sandbox/faults`
async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

/// `POST /_sandbox/reset`
async fn reset(State(state): State<AppState>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpireBody {
    /// Only this token (all if absent).
    #[serde(default)]
    fingerprint: Option<String>,
}

/// `POST /_sandbox/tokens/expire [{"fingerprint": …}]`
async fn expire_tokens(State(state): State<AppState>, body: Bytes) -> Response {
    let body: ExpireBody = match parse_body(&body) {
        Ok(b) => b,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, &e),
    };
    let n = state.tokens().expire(body.fingerprint.as_deref());
    Json(json!({"expired": n})).into_response()
}

/// `POST /_sandbox/refresh_tokens/expire`: every refresh token lapses now.
async fn expire_refresh_tokens(State(state): State<AppState>) -> Json<Value> {
    let n = state.grants().expire_refresh_tokens();
    Json(json!({"expired": n}))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeGrantsBody {
    /// The Box user whose grants end.
    user: String,
    /// Only the grants to this app (all apps if absent).
    #[serde(default)]
    client_id: Option<String>,
}

/// `POST /_sandbox/grants/revoke {"user": …, "client_id"?: …}`: the user removes the
/// app's access from their Box account; its tokens stop working at once.
async fn revoke_grants(State(state): State<AppState>, body: Bytes) -> Response {
    let body: RevokeGrantsBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => return control_error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
    };
    let n = state.revoke_user_grants(&body.user, body.client_id.as_deref());
    Json(json!({"revoked": n})).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModeBody {
    mode: DownloadMode,
}

/// `GET /_sandbox/downloads`
async fn download_mode(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"mode": state.downloads().mode}))
}

/// `PUT /_sandbox/downloads {"mode": "direct" | "redirect"}`
async fn set_download_mode(State(state): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<ModeBody>(&body) {
        Ok(b) => {
            state.downloads().mode = b.mode;
            Json(json!({"mode": b.mode})).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")),
    }
}

/// `GET /_sandbox/info`: the sandbox's URLs.
async fn info(State(state): State<AppState>) -> Json<Value> {
    let b = &state.base_url;
    Json(json!({
        "base_url": b,
        "api_base_url": format!("{b}/2.0"),
        "upload_base_url": format!("{b}/api/2.0"),
        "token_url": format!("{b}/oauth2/token"),
        "revoke_url": format!("{b}/oauth2/revoke"),
        "authorize_url": format!("{b}/api/oauth2/authorize"),
        "enterprise_id": state.store().enterprise_id,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_are_loopback() {
        for ok in ["127.0.0.1", "127.5.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ok.parse().unwrap()), "{ok}");
        }
        for no in [
            "10.0.0.1",
            "192.168.1.2",
            "::ffff:10.0.0.1",
            "fe80::1",
            "0.0.0.0",
        ] {
            assert!(!is_loopback(no.parse().unwrap()), "{no}");
        }
    }
}
