//! The per-tool OAuth scope gate. A `tools/call` of a tool that changes data
//! needs `box:write` besides `mcp:tools`; a token without it gets HTTP 403 with an
//! `insufficient_scope` challenge listing every scope the call needs, so the
//! client can step up (MCP 2025-11-25 and 2026-07-28).
//!
//! Clients listed in `auth.tool_error_on_insufficient_scope` (known to mishandle
//! that 403) are let through instead, with a [`ScopeShortfall`] in the request's
//! extensions: the MCP layer answers the call with a tool error naming the missing
//! scopes. Either way the tool does not run.
//!
//! The body is read (it is already size-limited) and classified strictly
//! ([`jsonrpc_peek`]): a body that is not one well-formed JSON-RPC message gets 400
//! with the JSON-RPC error, so the gate fails closed. Then it is handed on
//! unchanged. A tool the caller may not use by policy is let through: the MCP
//! layer answers it like an unknown tool, so the scope gate cannot reveal it.

use std::sync::Arc;

use super::{
    ApiError, AppState,
    jsonrpc_peek::{self, Message},
};
use crate::{
    audit::AuditEvent,
    auth::Principal,
    mcp::tools::{ScopeShortfall, catalog},
    telemetry::RequestId,
};
use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;

pub async fn require_tool_scopes(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST || state.unauthenticated.is_some() {
        return next.run(request).await;
    }
    let Some(principal) = request.extensions().get::<Arc<Principal>>().cloned() else {
        return ApiError::MissingToken.into_response_with(&state.challenge);
    };
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => return body_error(&error).into_response_with(&state.challenge),
    };
    // Fail closed: a body this gate cannot read is refused, not passed on for a
    // later parser to read some other way.
    let message = match jsonrpc_peek::classify(&bytes) {
        Ok(message) => message,
        Err(error) => {
            tracing::info!(code = "invalid_json_rpc", %error, "request refused");
            return ApiError::BadJsonRpc(error).into_response_with(&state.challenge);
        }
    };
    let called = match &message {
        Message::ToolCall { tool } => catalog::find(tool),
        Message::Other { method } if method == "initialize" => {
            // The session layer caps how many sessions initializes may create.
            parts.extensions.insert(super::sessions::Initialize);
            None
        }
        Message::Other { .. } | Message::Response => None,
    };
    if let Some(tool) = called
        && state.may_use(&principal, tool)
    {
        let needed = catalog::oauth_scopes(tool.action);
        let lacking = !state.scope_check.all(&principal, needed);
        if lacking && state.tool_error_clients.matches(&principal) {
            // The MCP layer answers, and audits, the call as a tool error.
            parts.extensions.insert(ScopeShortfall {
                required: needed.iter().map(|s| s.to_string()).collect(),
                missing: state.scope_check.missing(&principal, needed),
            });
        } else if lacking {
            tracing::info!(
                code = "insufficient_scope",
                tool = tool.name,
                "request refused"
            );
            let mut audit = AuditEvent::new(&principal, tool.name);
            audit.client = crate::audit::client_of(&parts.extensions);
            audit.request_id = parts
                .extensions
                .get::<RequestId>()
                .and_then(RequestId::as_str);
            audit.decision = "insufficient_scope";
            audit.scopes_checked = needed;
            audit.outcome = "refused";
            audit.emit();
            let mut response = ApiError::InsufficientScope {
                required: needed.iter().map(|s| s.to_string()).collect(),
            }
            .into_response_with(&state.challenge);
            // Audited above as the tool call it refused: one event per decision.
            response.extensions_mut().remove::<super::error::Refused>();
            return response;
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Why a body could not be read: too large, too slow, or broken off.
fn body_error(error: &axum::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return ApiError::BodyTooLarge;
        }
        if e.is::<tower_http::timeout::TimeoutError>() {
            tracing::info!(
                code = "body_timeout",
                "request refused: the body was too slow"
            );
            return ApiError::BodyTimeout;
        }
        cause = e.source();
    }
    ApiError::BodyUnreadable
}
