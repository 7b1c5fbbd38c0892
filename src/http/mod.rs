//! The HTTP surface: `/mcp` behind the security layers, the RFC 9728 metadata,
//! and the health endpoints.

mod access_log;
pub mod authn;
pub mod challenge;
mod config;
mod error;
pub mod guard;
pub mod health;
pub(crate) mod jsonrpc_peek;
pub mod listener;
mod load_limit;
pub mod metadata;
mod peer;
pub mod rate_limit;
pub mod refusals;
pub mod request_id;
mod request_metrics;
pub mod scopes;
pub mod sessions;
pub mod tls;
pub mod tool_scopes;

use std::sync::Arc;

use bytes::Bytes;

use axum::{
    Router,
    extract::State,
    http::{HeaderName, HeaderValue, Method, header},
    middleware::from_fn_with_state,
    response::IntoResponse,
    routing::get,
};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, Any, CorsLayer},
    limit::RequestBodyLimitLayer,
    timeout::RequestBodyDeadlineLayer,
    trace::TraceLayer,
};

use crate::{
    auth::{KeyStore, Principal, TokenVerifier},
    authz::Authorizer,
    mcp::{BoxMcp, ToolPolicy, tools::BoxContext},
};
use challenge::Challenge;
pub use config::{HttpConfig, MCP_PATH, PublicUrls, SessionConfig, parse_origin};
pub use error::ApiError;
use guard::RequestGuard;
pub use load_limit::LoadLimit;
use sessions::{SESSION_HEADER, SessionBindings};

/// Everything the request path needs, built once at start.
pub struct AppState {
    pub issuer: String,
    pub urls: PublicUrls,
    pub challenge: Challenge,
    pub guard: RequestGuard,
    pub keys: Arc<KeyStore>,
    pub verifier: TokenVerifier,
    pub required_scopes: Vec<String>,
    /// Scope checks with the configured hierarchy.
    pub scope_check: scopes::ScopeCheck,
    /// `auth.tool_error_on_insufficient_scope`: clients whose scope refusals on
    /// `tools/call` are tool errors instead of HTTP 403.
    pub tool_error_clients: crate::auth::ClientPatterns,
    pub max_body_bytes: usize,
    /// Serve MCP without sessions (`stateless`).
    pub stateless: bool,
    pub sessions: SessionBindings,
    /// The tool policy (hot-reloaded).
    pub authorizer: Arc<Authorizer>,
    /// The Box client and broker, shared by every MCP session.
    pub box_context: Option<Arc<BoxContext>>,
    /// The RFC 9728 document, serialised once.
    pub metadata_json: Bytes,
    /// Benchmark builds only (`auth.insecure_disabled`): every request acts as
    /// this principal, with no token, scope check or tool policy. `None` in every
    /// real deployment (configuration refuses the switch elsewhere).
    pub unauthenticated: Option<Arc<Principal>>,
    /// Concurrent requests and their time limit on `/mcp`.
    pub load_limit: load_limit::LoadLimit,
    /// `http.body_read_timeout`.
    pub body_read_timeout: std::time::Duration,
    /// Proxies whose forwarding headers name the client (`http.trusted_proxies`).
    pub trusted_proxies: crate::client_addr::TrustedProxies,
    /// `None` when `rate_limit.enabled` is off.
    pub rate_limits: Option<rate_limit::RateLimits>,
    /// The Prometheus recorder, when `metrics.enabled` (else `/metrics` is 404).
    pub metrics: Option<&'static metrics_exporter_prometheus::PrometheusHandle>,
    /// DPoP proofs (`auth.dpop`); `None` when it is off.
    pub dpop: Option<Arc<crate::auth::DpopVerifier>>,
    /// Keep the caller's token for the tools ([`crate::auth::CallerToken`]): only
    /// when linked Box accounts need it for the IdP token exchange.
    pub keep_caller_token: bool,
}

pub fn router(state: Arc<AppState>, shutdown: CancellationToken) -> Router {
    let mut mcp_config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by our own guard, before authentication.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(state.max_body_bytes)
        .with_cancellation_token(shutdown);
    if state.stateless {
        mcp_config = mcp_config
            .with_legacy_session_mode(false)
            .with_json_response(true);
    }
    let mcp_service = StreamableHttpService::new(
        {
            let box_context = state.box_context.clone();
            let policy = if state.unauthenticated.is_some() {
                ToolPolicy::Unenforced
            } else {
                ToolPolicy::Enforced(state.authorizer.clone())
            };
            move || Ok(BoxMcp::for_http(box_context.clone(), policy.clone()))
        },
        state.sessions.manager(),
        mcp_config,
    );

    // One tower stack, not one `Router::layer` per layer: axum wraps each such
    // layer in its own boxed route, and clones every box below it on each request
    // (about a quarter of a `whoami`'s instructions, under callgrind). Outermost first.
    let mcp_stack = ServiceBuilder::new()
        .layer(from_fn_with_state(state.clone(), rate_limit::limit_client))
        .layer(from_fn_with_state(state.clone(), load_limit::limit_load))
        // DNS rebinding protection where it matters. Health probes (which send a
        // pod IP as Host) and the public metadata are not behind it.
        .layer(from_fn_with_state(state.clone(), guard::check_host))
        .layer(from_fn_with_state(state.clone(), guard::check_origin))
        .layer(mcp_cors(&state))
        .layer(RequestBodyDeadlineLayer::new(state.body_read_timeout))
        .layer(RequestBodyLimitLayer::new(state.max_body_bytes))
        // The layers below take axum's body type, bounded and timed by the two above.
        .map_request(|request: axum::http::Request<_>| request.map(axum::body::Body::new))
        .layer(from_fn_with_state(state.clone(), authn::authenticate))
        .layer(from_fn_with_state(
            state.clone(),
            tool_scopes::require_tool_scopes,
        ))
        .option_layer(
            (!state.stateless).then(|| from_fn_with_state(state.clone(), sessions::bind_session)),
        )
        // One response type with or without the session layer.
        .map_response(IntoResponse::into_response)
        .service(mcp_service);
    let mcp = Router::new().route_service(MCP_PATH, mcp_stack);

    let metadata = Router::new()
        .route(
            "/.well-known/oauth-protected-resource",
            get(protected_resource_metadata),
        )
        .route(
            &format!("/.well-known/oauth-protected-resource{MCP_PATH}"),
            get(protected_resource_metadata),
        )
        // Browser-based clients read the metadata cross-origin.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET]),
        );

    Router::new()
        .merge(mcp)
        .merge(metadata)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state.clone())
        // Outermost first; one stack for the reason given above.
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state, peer::resolve_client))
                .layer(axum::middleware::from_fn(request_id::assign))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_id::make_span)
                        .on_request(())
                        .on_response(access_log::on_response)
                        // Refusals are expected answers, logged once by the layer that refused.
                        .on_failure(()),
                )
                .layer(axum::middleware::from_fn(request_metrics::record))
                .layer(axum::middleware::from_fn(refusals::audit_refusals))
                .layer(CatchPanicLayer::new()),
        )
}

impl AppState {
    /// Whether the policy lets `principal` use `tool`.
    pub fn may_use(&self, principal: &Principal, tool: &crate::mcp::tools::BoxTool) -> bool {
        self.authorizer
            .decide(principal, tool.name, tool.action)
            .allowed
    }
}

/// Serves the metadata document rendered once at start.
async fn protected_resource_metadata(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.metadata_json.clone(),
    )
}

fn mcp_cors(state: &AppState) -> CorsLayer {
    let origins: Vec<HeaderValue> = state
        .guard
        .origins()
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static(SESSION_HEADER),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
            // RFC 9449: a browser client's proof of possession.
            HeaderName::from_static("dpop"),
        ])
        .expose_headers([
            HeaderName::from_static(SESSION_HEADER),
            header::WWW_AUTHENTICATE,
        ])
}
