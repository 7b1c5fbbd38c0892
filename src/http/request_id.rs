//! A request id for every request, generated here. An id sent by the client is
//! replaced, never trusted or logged: it is attacker-controlled text.

use axum::{extract::Request, middleware::Next, response::Response};
use http::{HeaderName, HeaderValue};
use tracing::Span;

use crate::telemetry::RequestId;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    request.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    response
}

/// The span every log line of a request is recorded in, with the client address
/// (the TCP peer). Only the path is logged: a query string could carry a token.
pub fn make_span(request: &Request) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(RequestId::as_str)
        .unwrap_or("-");
    let client = crate::audit::client_of(request.extensions());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client = client.map(tracing::field::display),
        method = %request.method(),
        path = %request.uri().path(),
        subject = tracing::field::Empty,
    );
    // A client's W3C trace context makes the request part of its trace.
    crate::telemetry::otlp::adopt_from_headers(&span, request.headers());
    span
}
