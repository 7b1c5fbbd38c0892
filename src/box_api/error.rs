//! Box API errors, mapped to messages a person (or an agent) can act on.
//! No variant carries a token: only Box's own error code, message and request id.

use serde::Deserialize;

/// Box's `ClientError` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClientError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub context_info: Option<serde_json::Value>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum BoxError {
    #[error("not found in Box, or your account has no access to it")]
    NotFound,
    #[error("Box refused the request: {message}")]
    Forbidden { code: String, message: String },
    #[error("an item with that name already exists in the folder (id {conflicting_id:?})")]
    NameInUse { conflicting_id: Option<String> },
    #[error("Box reports a conflict: {message}")]
    Conflict { message: String },
    #[error("Box rejected the request as invalid: {message}")]
    BadRequest { code: String, message: String },
    #[error("Box rejected the item's version (it changed since it was read): {message}")]
    PreconditionFailed { message: String },
    #[error("Box is rate-limiting requests; try again later")]
    RateLimited,
    #[error("Box is unavailable (HTTP {status}); try again later")]
    Unavailable { status: u16 },
    #[error("Box did not accept the server's credentials")]
    Unauthorized,
    #[error("cannot reach Box: {0}")]
    Transport(String),
    #[error("Box did not answer within the time allowed")]
    Timeout,
    #[error("Box sent an answer the server could not read: {0}")]
    InvalidResponse(String),
    #[error("the file is larger than the {limit}-byte limit of this tool")]
    TooLarge { limit: u64 },
    #[error("no Box credentials for this call: {0}")]
    Credentials(String),
    /// Box's token endpoint could not be reached, or kept failing, within the
    /// configured bounds: trying again later may work.
    #[error("no Box credentials for this call: {0}")]
    CredentialsUnavailable(String),
    #[error("Box answered HTTP {status}: {message}")]
    Other { status: u16, message: String },
    /// The caller's own Box account must be linked (again) at the IdP first
    /// (`box.per_user_token = "linked"`): `link_url` is where.
    #[error("{message}")]
    LinkRequired { link_url: String, message: String },
}

impl BoxError {
    /// The error for a non-success answer that is not retried.
    pub(crate) fn from_status(status: u16, body: &[u8]) -> Self {
        let error: ClientError = serde_json::from_slice(body).unwrap_or_default();
        let code = error.code.clone().unwrap_or_default();
        let message = error
            .message
            .clone()
            .unwrap_or_else(|| format!("HTTP {status}"));
        match (status, code.as_str()) {
            (404, _) => Self::NotFound,
            (401, _) => Self::Unauthorized,
            (409, "item_name_in_use") => Self::NameInUse {
                conflicting_id: conflicting_id(&error),
            },
            (409, _) => Self::Conflict { message },
            (412, _) => Self::PreconditionFailed { message },
            (403, _) => Self::Forbidden { code, message },
            (400, _) | (405, _) | (422, _) => Self::BadRequest { code, message },
            (429, _) => Self::RateLimited,
            (s, _) if s >= 500 => Self::Unavailable { status: s },
            (s, _) => Self::Other { status: s, message },
        }
    }
}

/// `context_info.conflicts` is an object or a list of objects with an `id`.
fn conflicting_id(error: &ClientError) -> Option<String> {
    let conflicts = error.context_info.as_ref()?.get("conflicts")?;
    let first = match conflicts {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    first.get("id")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_error_bodies_map_to_actionable_errors() {
        let clash = br#"{"type":"error","status":409,"code":"item_name_in_use","message":"Item with the same name already exists","context_info":{"conflicts":[{"type":"file","id":"123"}]}}"#;
        assert!(matches!(
            BoxError::from_status(409, clash),
            BoxError::NameInUse { conflicting_id: Some(id) } if id == "123"
        ));
        assert!(matches!(
            BoxError::from_status(404, b"{}"),
            BoxError::NotFound
        ));
        assert!(matches!(
            BoxError::from_status(403, br#"{"code":"insufficient_scope","message":"nope"}"#),
            BoxError::Forbidden { code, .. } if code == "insufficient_scope"
        ));
        assert!(matches!(
            BoxError::from_status(503, b"garbage"),
            BoxError::Unavailable { status: 503 }
        ));
    }
}
