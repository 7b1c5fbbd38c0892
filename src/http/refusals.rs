//! One audit event for every request refused before MCP: whichever layer refused
//! it (Host, Origin, authentication, scope, session, body), the refusal went
//! through [`ApiError`](super::ApiError), which marks the response; this layer,
//! inside the request span, writes the event with the client address.

use axum::{extract::Request, middleware::Next, response::Response};

use super::error::Refused;
use crate::{audit, telemetry::RequestId};

pub async fn audit_refusals(request: Request, next: Next) -> Response {
    let client = audit::client_of(request.extensions());
    let request_id = request.extensions().get::<RequestId>().cloned();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(Refused(code)) = response.extensions().get::<Refused>() {
        let token = response.extensions().get::<super::authn::RefusedToken>();
        let reason = token.and_then(|t| t.reason.as_deref());
        let claimed = token.and_then(|t| t.claimed_client.as_deref());
        audit::refused(
            request_id.as_ref().and_then(RequestId::as_str),
            client,
            &path,
            response.status().as_u16(),
            audit::Refusal {
                code,
                reason,
                claimed_client_id: claimed,
            },
        );
    }
    response
}
