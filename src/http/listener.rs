//! The accept loop, ours rather than `axum::serve`'s, for what that one does not
//! do: a header read timeout (a client that sends its request line and headers a
//! byte at a time is cut off, instead of holding a connection forever), a cap on
//! open connections, the client address on every request, and TLS when
//! configured ([`super::tls`]; the handshake has the header read timeout too).
//! HTTP/1.1 only; the shutdown is graceful, bounded by [`DRAIN_TIMEOUT`].

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
    sync::Semaphore,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// How long a shutdown waits for open requests before it lets them go.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits hyper enforces per connection, and on their number.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Longest time from a connection's (or a keep-alive request's) first byte to
    /// the end of its headers.
    pub header_read_timeout: Duration,
    /// Open connections at most; one more is closed at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown`, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: CancellationToken,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, do not spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tracing::warn!(
                client = %peer.ip(),
                max = limits.max_connections,
                "connection refused: http.max_connections are open"
            );
            drop(stream);
            continue;
        };
        let app = app.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = permit;
            let result = match tls {
                None => serve_connection(stream, peer, app, limits, watcher).await,
                Some(acceptor) => {
                    // A client that stalls its handshake is cut off like a slow header.
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, peer, app, limits, watcher).await
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(client = %peer.ip(), %error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(client = %peer.ip(), "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(client = %peer.ip(), %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "open requests did not finish within {DRAIN_TIMEOUT:?} of the shutdown; closing them"
        );
    }
}

/// One HTTP/1.1 connection over `io`, watched for the graceful shutdown.
async fn serve_connection<I>(
    io: I,
    peer: std::net::SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    watcher: hyper_util::server::graceful::Watcher,
) -> Result<(), hyper::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service);
    watcher.watch(connection).await
}
