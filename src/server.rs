//! Binding, wiring and running the HTTP server.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use bytes::Bytes;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    auth::{
        ClientPatterns, INSECURE_NO_AUTH_BUILD, IdpClient, KeyStore, Principal, RefreshPolicy,
        TokenVerifier, ValidationPolicy,
    },
    authz::Authorizer,
    config::Settings,
    http::{
        AppState, PublicUrls, challenge::Challenge, guard::RequestGuard,
        metadata::ProtectedResourceMetadata, scopes::ScopeCheck, sessions::SessionBindings,
        tls::Tls,
    },
    mcp::tools::{BoxContext, catalog},
};

/// How long a shutdown waits for Box to revoke the tokens box-mcp held; what is
/// not revoked by then expires by itself (Box tokens live about an hour).
const REVOKE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    settings: Settings,
    state: Arc<AppState>,
    tls: Option<Arc<Tls>>,
}

impl Server {
    /// Binds the listen address and builds the request path. The IdP is not
    /// contacted here: discovery runs in the background once [`Server::run`] starts.
    pub async fn bind(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let bound = listener.local_addr()?;
        let tls = match &settings.tls {
            Some((cert, key, pair)) => Some(Arc::new(
                Tls::new((cert.clone(), key.clone()), pair.clone()).context("cannot set up TLS")?,
            )),
            None => None,
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base = match &settings.public_base_url {
            Some(url) => url.clone(),
            None => {
                Url::parse(&format!("{scheme}://{bound}")).context("bound address is not a URL")?
            }
        };
        let state = Arc::new(build_state(&settings, &base)?);
        Ok(Self {
            listener,
            settings,
            state,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn urls(&self) -> &PublicUrls {
        &self.state.urls
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let refresher = self.state.keys.spawn_refresher();
        // Histograms hold their samples until upkeep folds them in; without it
        // (and with no scrapes) they would grow without bound.
        let upkeep = self.state.metrics.map(|handle| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    handle.run_upkeep();
                }
            })
        });
        // Keep the watcher alive as long as the server runs.
        let _policy_watcher = if self.settings.raw.policy.watch {
            Some(
                self.state
                    .authorizer
                    .spawn_watcher()
                    .map_err(|e| anyhow::anyhow!("cannot watch the tool policy: {e}"))?,
            )
        } else {
            None
        };
        let app = crate::http::router(self.state.clone(), shutdown.child_token());
        warn_insecure_transport(&self.settings);
        tracing::info!(
            addr = %self.local_addr(),
            resource = %self.state.urls.resource,
            issuer = %self.state.issuer,
            stateless = self.settings.raw.stateless,
            tls = self.tls.is_some(),
            "listening"
        );
        let limits = crate::http::listener::ConnectionLimits {
            header_read_timeout: self.settings.raw.http.header_read_timeout,
            max_connections: self.settings.raw.http.max_connections,
        };
        let reloader = self
            .tls
            .as_ref()
            .map(|tls| tls.spawn_reloader(self.settings.raw.tls.reload_interval));
        let acceptor = self.tls.as_ref().map(|tls| tls.acceptor());
        crate::http::listener::serve(self.listener, app, limits, acceptor, shutdown).await;
        if let Some(reloader) = reloader {
            reloader.abort();
        }
        refresher.abort();
        if let Some(upkeep) = upkeep {
            upkeep.abort();
        }
        if let Some(context) = &self.state.box_context {
            let report = context.broker.revoke_issued(REVOKE_BUDGET).await;
            if report != Default::default() {
                tracing::info!(
                    revoked = report.revoked,
                    not_revoked = report.not_revoked,
                    timed_out = report.timed_out,
                    "revoked the Box tokens box-mcp held"
                );
            }
        }
        Ok(())
    }
}

fn build_state(settings: &Settings, base: &Url) -> anyhow::Result<AppState> {
    let raw = &settings.raw;
    // First: nothing may record before the recorder is there (crate::metrics).
    let metrics = if raw.metrics.enabled {
        Some(crate::metrics::install().context("cannot start the metrics recorder")?)
    } else {
        None
    };
    let urls = PublicUrls::from_base(base);
    let issuer = raw.auth.issuer.clone();

    let mut audiences = vec![urls.resource.clone()];
    audiences.extend(raw.auth.extra_audiences.iter().cloned());

    let idp =
        IdpClient::new(&issuer, raw.auth.idp_timeout).context("cannot build the IdP client")?;
    let introspector = crate::auth::Introspector::new(
        &raw.auth.introspection,
        crate::auth::IntrospectionContext {
            idp: idp.clone(),
            issuer: issuer.clone(),
            audiences: audiences.clone(),
            claims: settings.claims.clone(),
            leeway: raw.auth.leeway,
            allow_insecure_http: raw.allow_insecure_http,
        },
    );
    let keys = KeyStore::new(
        idp,
        ValidationPolicy {
            issuer: issuer.clone(),
            audiences,
            algorithms: settings.algorithms.clone(),
            leeway: raw.auth.leeway,
        },
        RefreshPolicy {
            min_interval: raw.auth.jwks_min_refresh_interval,
            default_interval: raw.auth.jwks_refresh_interval,
            retry_initial: raw.auth.discovery_retry_initial,
            retry_max: raw.auth.discovery_retry_max,
        },
    );
    let verifier = TokenVerifier::new(
        keys.clone(),
        settings.claims.clone(),
        issuer.clone(),
        settings.algorithms.clone(),
        raw.auth.leeway,
        raw.auth.token_cache_capacity,
        raw.auth.token_cache_max_ttl,
    );
    let verifier = match introspector {
        Some(introspector) => verifier.with_introspection(
            Arc::new(introspector),
            raw.auth.introspection.introspect_jwts,
        ),
        None => verifier,
    };
    let resource = Url::parse(&urls.resource).context("the canonical resource URL")?;
    let dpop = crate::auth::DpopVerifier::new(&raw.auth.dpop, resource).map(Arc::new);
    let mut metadata = ProtectedResourceMetadata::new(
        &urls,
        &issuer,
        &settings.scopes_supported,
        &raw.resource_name,
    );
    let mut challenge = Challenge::new(&urls.resource_metadata, &raw.auth.required_scopes);
    if let Some(dpop) = &dpop {
        metadata = metadata.with_dpop(dpop.algorithm_names(), dpop.required());
        challenge = challenge.with_dpop(&dpop.algorithm_names(), dpop.required());
    }
    Ok(AppState {
        challenge,
        dpop,
        guard: RequestGuard::new(
            raw.http.allowed_hosts(base, settings.listen),
            raw.http.allowed_origins(base),
        ),
        keys,
        verifier,
        required_scopes: raw.auth.required_scopes.clone(),
        scope_check: ScopeCheck::new(&raw.auth.scope_hierarchy),
        tool_error_clients: ClientPatterns::new(&raw.auth.tool_error_on_insufficient_scope)?,
        max_body_bytes: raw.http.max_body_bytes,
        stateless: raw.stateless,
        sessions: SessionBindings::new(
            raw.session.idle_timeout,
            raw.session.max_sessions,
            raw.session.max_sessions_per_subject,
        ),
        metadata_json: Bytes::from(serde_json::to_vec(&metadata)?),
        keep_caller_token: settings.box_plan.uses_linked_accounts(),
        box_context: BoxContext::new(&raw.r#box, &settings.box_plan)?,
        authorizer: Authorizer::from_config(&raw.policy, catalog::policy_tools())
            .map_err(|e| anyhow::anyhow!("tool policy: {e}"))?,
        unauthenticated: unauthenticated_principal(settings),
        trusted_proxies: crate::client_addr::TrustedProxies::parse(&raw.http.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("http.trusted_proxies: {e}"))?,
        rate_limits: crate::http::rate_limit::RateLimits::new(&raw.rate_limit),
        load_limit: crate::http::LoadLimit::new(
            raw.http.max_concurrent_requests,
            raw.http.request_timeout,
        ),
        body_read_timeout: raw.http.body_read_timeout,
        metrics,
        issuer,
        urls,
    })
}

/// The lab switches that allow plain http off loopback, said at every start.
fn warn_insecure_transport(settings: &Settings) {
    let raw = &settings.raw;
    if raw.allow_insecure_http {
        tracing::warn!(
            public_base_url = %raw.public_base_url,
            issuer = %raw.auth.issuer,
            "allow_insecure_http is on: plain http is accepted off loopback for the public URL \
             and the identity provider, so tokens may cross the network in clear (lab use only)"
        );
    }
    if raw.r#box.allow_insecure_http {
        tracing::warn!(
            "box.allow_insecure_http is on: Box credentials may cross the network in clear (lab use only)"
        );
    }
}

/// The principal of every request when authentication is off: only in a
/// benchmark build, with `auth.insecure_disabled` (checked at configuration).
fn unauthenticated_principal(settings: &Settings) -> Option<Arc<Principal>> {
    if !(INSECURE_NO_AUTH_BUILD && settings.raw.auth.insecure_disabled) {
        return None;
    }
    tracing::warn!(
        "AUTHENTICATION IS OFF (auth.insecure_disabled, benchmark build): every request is \
         served without a token, scope check or tool policy"
    );
    Some(Arc::new(Principal {
        issuer: String::new(),
        subject: "insecure-no-auth".into(),
        username: Some("insecure-no-auth".into()),
        email: None,
        email_verified: false,
        client_id: None,
        roles: Vec::new(),
        groups: Vec::new(),
        scopes: Vec::new(),
        box_user_id: None,
        valid_until: u64::MAX,
        bound_key: None,
    }))
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
