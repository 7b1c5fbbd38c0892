//! Box-style API errors (schema `ClientError`), with their HTTP mapping in one place.

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::ids;

/// `WWW-Authenticate` realm Box uses on its API.
const REALM: &str = "Bearer realm=\"Service\"";

/// Error codes the sandbox sends that Box sends but that the `ClientError.code` enum of
/// Box's OpenAPI description does not list. The schema test adds exactly these.
pub const CODES_BEYOND_OPENAPI_ENUM: &[&str] = &[
    "item_name_in_use",
    "access_denied_insufficient_permissions",
    "rate_limit_exceeded",
    "metadata_after_file_contents",
    "folder_not_empty",
    "user_already_collaborator",
    "tuple_already_exists",
    "instance_not_found",
];

/// An error answered in Box's `ClientError` shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub context_info: Option<Value>,
    pub www_authenticate: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            context_info: None,
            www_authenticate: None,
            retry_after: None,
        }
    }

    pub fn with_context(mut self, context: Value) -> Self {
        self.context_info = Some(context);
        self
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// No bearer token at all.
    pub fn missing_token() -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
        e.www_authenticate = Some(REALM.to_string());
        e
    }

    /// A bearer token that is unknown, expired or revoked.
    pub fn invalid_token() -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
        e.www_authenticate = Some(format!(
            "{REALM}, error=\"invalid_token\", error_description=\"The access token provided is invalid.\""
        ));
        e
    }

    /// The token lacks a scope the endpoint needs.
    pub fn insufficient_scope(needed: &[&str]) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The request requires higher privileges than provided by the access token.",
        )
        .with_context(json!({ "required_scopes": needed }));
        e.www_authenticate = Some(format!(
            "{REALM}, error=\"insufficient_scope\", error_description=\"The request requires higher privileges than provided by the access token.\""
        ));
        e
    }

    /// The user may see the item but not do this to it.
    pub fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Unknown ids, and items the caller may not see (Box answers both alike).
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn item_name_invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "item_name_invalid", message)
    }

    /// A name clash; `conflicts` are the clashing items (mini representations).
    pub fn item_name_in_use(conflicts: Vec<Value>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "item_name_in_use",
            "Item with the same name already exists",
        )
        .with_context(json!({ "conflicts": conflicts }))
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "The resource has been modified. Please retrieve the resource again and retry",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method Not Allowed",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    /// The JSON body Box sends.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "type": "error",
            "status": self.status.as_u16(),
            "code": self.code,
            "help_url": "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/",
            "message": self.message,
            "request_id": ids::request_id(),
        });
        if let (Some(ctx), Some(map)) = (&self.context_info, body.as_object_mut()) {
            map.insert("context_info".into(), ctx.clone());
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        if let Some(value) = self
            .www_authenticate
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Parse a JSON request body, answering Box's 400 on anything malformed.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("The request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON in the request body: {e}")))
}

/// The code Box uses for a bare status.
fn code_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        412 => "precondition_failed",
        429 => "rate_limit_exceeded",
        400..=499 => "bad_request",
        502..=504 => "unavailable",
        _ => "internal_server_error",
    }
}

/// Middleware body: error answers that are not JSON (the framework's own
/// rejections: undecodable paths, oversized bodies, …) become Box's `ClientError`.
pub async fn box_shaped(response: Response) -> Response {
    let status = response.status();
    // JSON answers are Box-shaped already; HTML ones are the sign-in pages' own.
    let shaped = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if status.as_u16() < 400 || shaped {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("Error");
    ApiError::new(status, code_for(status), reason).into_response()
}

/// The answer when a handler panics: 500 in Box's shape.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("Internal Server Error").into_response()
}
