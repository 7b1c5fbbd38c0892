//! Starting and stopping a sandbox.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use axum::{
    Router,
    middleware::{from_fn_with_state, map_response},
    routing::{get, post},
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower_http::catch_panic::CatchPanicLayer;

use crate::{
    control,
    downloads::DownloadMode,
    error,
    faults::{Fault, FaultError, FaultSpec},
    middleware, oauth,
    request_log::LogEntry,
    routes,
    seed::{AppAuth, Seed, SeedError, SeedSource},
    state::{AppState, Lifetimes},
    store::Store,
};

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    pub seed: SeedSource,
    /// Lifetime of access tokens (Box: 60 minutes).
    pub token_ttl: Duration,
    /// Lifetime of the user grants' refresh tokens (Box: 60 days).
    pub refresh_token_ttl: Duration,
    /// Redirect URIs registered for OAuth 2.0 apps on top of the seed's, as
    /// `(client_id, uri)`: the callback of an IdP on a port chosen at run time.
    pub redirect_uris: Vec<(String, String)>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            seed: SeedSource::Builtin,
            token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(60 * 86_400),
            redirect_uris: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running sandbox. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// The whole application: OAuth, the API, uploads, control endpoints, with the
/// request log outermost and fault injection inside it.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .route(
            "/api/oauth2/authorize",
            get(oauth::authorize::start).post(oauth::authorize::submit),
        )
        .merge(routes::router())
        .nest("/_sandbox", control::router())
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(map_response(error::box_shaped))
        .layer(from_fn_with_state(state.clone(), middleware::inject))
        .layer(from_fn_with_state(state.clone(), middleware::record))
        .with_state(state)
}

impl Sandbox {
    /// Load the seed, bind, and serve in the background.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, StartError> {
        let seed = Seed::load(&config.seed)?;
        let mut seed = seed;
        for (client_id, uri) in &config.redirect_uris {
            let app = seed
                .apps
                .iter_mut()
                .find(|a| &a.client_id == client_id && a.auth == AppAuth::OAuth2)
                .ok_or_else(|| {
                    SeedError::Invalid(format!(
                        "redirect URI for {client_id:?}: no OAuth 2.0 app has that client id"
                    ))
                })?;
            if url::Url::parse(uri).is_err() {
                return Err(
                    SeedError::Invalid(format!("redirect URI {uri:?} is not a URL")).into(),
                );
            }
            app.redirect_uris.push(uri.clone());
        }
        let store = Store::from_seed(&seed)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
        let host = match addr.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(host, addr.port()));
        let lifetimes = Lifetimes {
            access: config.token_ttl,
            refresh: config.refresh_token_ttl,
        };
        let state = AppState::new(seed, store, base_url, lifetimes);
        let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "box-sandbox listening");
        Ok(Sandbox {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// `http://HOST:PORT/2.0`
    pub fn api_base_url(&self) -> String {
        format!("{}/2.0", self.state.base_url)
    }

    /// `http://HOST:PORT/api/2.0`
    pub fn upload_base_url(&self) -> String {
        format!("{}/api/2.0", self.state.base_url)
    }

    /// `http://HOST:PORT/oauth2/token`
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.state.base_url)
    }

    /// `http://HOST:PORT/oauth2/revoke`
    pub fn revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.state.base_url)
    }

    /// `http://HOST:PORT/api/oauth2/authorize`, the user sign-in of OAuth 2.0 apps
    /// (Box: `https://account.box.com/api/oauth2/authorize`).
    pub fn authorize_url(&self) -> String {
        format!("{}/api/oauth2/authorize", self.state.base_url)
    }

    /// Ends every grant of a Box user (as `POST /_sandbox/grants/revoke`): the user
    /// removed the app from their account. Returns how many grants ended.
    pub fn revoke_user_grants(&self, user: &str) -> usize {
        self.state.revoke_user_grants(user, None)
    }

    /// Every refresh token lapses now; returns how many.
    pub fn expire_refresh_tokens(&self) -> usize {
        self.state.grants().expire_refresh_tokens()
    }

    /// The request log (as `GET /_sandbox/requests` returns it).
    pub fn requests(&self) -> Vec<LogEntry> {
        self.state.log.entries(0)
    }

    pub fn clear_requests(&self) {
        self.state.log.clear();
    }

    /// Inject a fault (as `POST /_sandbox/faults`).
    pub fn add_fault(&self, spec: FaultSpec) -> Result<Fault, FaultError> {
        self.state.faults().add(spec)
    }

    /// The faults in force, with their hit counts (as `GET /_sandbox/faults`).
    pub fn faults(&self) -> Vec<Fault> {
        self.state.faults().list()
    }

    pub fn clear_faults(&self) {
        self.state.faults().clear();
    }

    pub fn set_download_mode(&self, mode: DownloadMode) {
        self.state.downloads().mode = mode;
    }

    /// Expire every token now; returns how many.
    pub fn expire_tokens(&self) -> usize {
        self.state.tokens().expire(None)
    }

    /// Content back to the seed; tokens, faults and the request log cleared.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// Stop accepting calls and wait (briefly) for the server to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
