//! The id that ties together every log line and audit event of one request.
//! The HTTP layer assigns it ([`crate::http`]); the MCP handler reads it from the
//! request's extensions for the audit trail.

use http::HeaderValue;

/// The id of the current request, as put into the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

impl RequestId {
    /// The id as text (it is always a UUID the server generated).
    pub fn as_str(&self) -> Option<&str> {
        self.0.to_str().ok()
    }
}
