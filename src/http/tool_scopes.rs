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
//! The body is read (it is already size-limited) to find the tool, then handed on
//! unchanged. A tool the caller may not use by policy is let through: the MCP
//! layer answers it like an unknown tool, so the scope gate cannot reveal it.

use std::{borrow::Cow, sync::Arc};

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::{
    audit::AuditEvent,
    auth::Principal,
    mcp::tools::{ScopeShortfall, catalog},
    telemetry::RequestId,
};

/// The two fields of a JSON-RPC request this gate needs; everything else is skipped.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    params: Option<PeekParams<'a>>,
}

#[derive(Deserialize)]
struct PeekParams<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

/// The tool a `tools/call` body names, if it is one.
fn called_tool(body: &[u8]) -> Option<String> {
    let peek: Peek<'_> = serde_json::from_slice(body).ok()?;
    if peek.method.as_deref() != Some("tools/call") {
        return None;
    }
    peek.params?.name.map(Cow::into_owned)
}

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
        Err(_) => return ApiError::BodyTooLarge.into_response_with(&state.challenge),
    };
    if let Some(tool) = called_tool(&bytes).as_deref().and_then(catalog::find)
        && state.may_use(&principal, tool)
    {
        let needed = catalog::oauth_scopes(tool.action);
        if !state.scope_check.all(&principal, needed)
            && state.tool_error_clients.matches(&principal)
        {
            // The MCP layer answers, and audits, the call as a tool error.
            parts.extensions.insert(ScopeShortfall {
                required: needed.iter().map(|s| s.to_string()).collect(),
                missing: state.scope_check.missing(&principal, needed),
            });
        } else if !state.scope_check.all(&principal, needed) {
            tracing::info!(
                code = "insufficient_scope",
                tool = tool.name,
                "request refused"
            );
            let mut audit = AuditEvent::new(&principal, tool.name);
            audit.request_id = parts
                .extensions
                .get::<RequestId>()
                .and_then(RequestId::as_str);
            audit.decision = "insufficient_scope";
            audit.scopes_checked = needed;
            audit.outcome = "refused";
            audit.emit();
            return ApiError::InsufficientScope {
                required: needed.iter().map(|s| s.to_string()).collect(),
            }
            .into_response_with(&state.challenge);
        }
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tools_call_names_a_tool() {
        assert_eq!(
            called_tool(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"box_file_delete","arguments":{"x":[1,2]}}}"#).as_deref(),
            Some("box_file_delete")
        );
        assert_eq!(
            called_tool(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            None
        );
        assert_eq!(called_tool(br#"{"method":"tools/call","params":{}}"#), None);
        assert_eq!(called_tool(b"not json"), None);
        assert_eq!(
            called_tool(br#"[{"method":"tools/call","params":{"name":"x"}}]"#),
            None
        );
        assert_eq!(
            called_tool(br#"{"method":"tools/call","params":{"name":"a\"b"}}"#).as_deref(),
            Some("a\"b")
        );
    }
}
