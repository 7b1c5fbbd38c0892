//! A local issuer shaped like an Auth0 tenant: the issuer is the origin **with** a
//! trailing slash (`http://127.0.0.1:PORT/`), discovery at
//! `/.well-known/openid-configuration`, keys at `/.well-known/jwks.json`, and
//! access tokens carrying Auth0's claims (`aud` array with the userinfo audience,
//! `azp`, `scope`, `permissions`, a namespaced roles claim).

use std::sync::{Arc, Mutex};

use axum::{Json, Router, extract::State, response::IntoResponse, routing::get};
use serde_json::{Value, json};

use crate::common::{TestKey, now};

/// The roles claim a post-login Action sets (box-mcp's default `claims.auth0_roles_claim`).
pub const ROLES_CLAIM: &str = "https://box-mcp/roles";

struct Inner {
    /// What the discovery document names as `issuer`.
    claimed_issuer: Mutex<String>,
    keys: Vec<Value>,
}

pub struct Auth0Issuer {
    /// The issuer, with the trailing slash: `http://127.0.0.1:PORT/`.
    pub issuer: String,
    inner: Arc<Inner>,
}

impl Auth0Issuer {
    pub async fn start(keys: &[&TestKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let issuer = format!("http://{addr}/");
        let inner = Arc::new(Inner {
            claimed_issuer: Mutex::new(issuer.clone()),
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks.json", get(jwks))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { issuer, inner }
    }

    /// Makes the discovery document name another issuer (for example the same
    /// origin without the trailing slash).
    pub fn claim_issuer(&self, issuer: &str) {
        *self.inner.claimed_issuer.lock().unwrap() = issuer.to_string();
    }

    /// Auth0's userinfo audience, which Auth0 adds to `aud` when `openid` is requested.
    pub fn userinfo(&self) -> String {
        format!("{}userinfo", self.issuer)
    }

    /// An access token's claims as Auth0 issues them for an API whose identifier is
    /// `audience`, with RBAC + "Add Permissions in the Access Token" and a post-login
    /// Action that sets the namespaced roles claim.
    pub fn claims(&self, audience: &str, sub: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": [audience, self.userinfo()],
            "iat": now,
            "exp": now + 300,
            "azp": "dyn-client-Xk2p9",
            "scope": "openid profile mcp:tools",
            "permissions": ["mcp:tools", "box:read"],
            ROLES_CLAIM: ["mcp-editor", "mcp-viewer"],
        })
    }
}

async fn discovery(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    let issuer = inner.claimed_issuer.lock().unwrap().clone();
    // Endpoints are built from the origin, as Auth0 does: `<origin>/authorize`, ….
    let origin = issuer.trim_end_matches('/');
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{origin}/authorize"),
        "token_endpoint": format!("{origin}/oauth/token"),
        "userinfo_endpoint": format!("{origin}/userinfo"),
        "registration_endpoint": format!("{origin}/oidc/register"),
        "jwks_uri": format!("{origin}/.well-known/jwks.json"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
        "code_challenge_methods_supported": ["S256", "plain"],
    }))
}

async fn jwks(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    Json(json!({ "keys": inner.keys }))
}
