//! The first layer of every request: who the client is ([`ClientAddr`]), from the
//! TCP peer and, behind trusted proxies, their forwarding headers. Everything
//! after (logs, audit, rate limits) reads the result.

use std::sync::Arc;

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};

use super::AppState;
use crate::client_addr::ClientAddr;

pub async fn resolve_client(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    if let Some(peer) = peer {
        let client = state.trusted_proxies.client(peer, request.headers());
        request.extensions_mut().insert(ClientAddr(client));
    }
    next.run(request).await
}
