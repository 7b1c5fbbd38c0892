//! A local OIDC issuer for tests: discovery document and JWKS on loopback, with
//! RSA keys generated in the test, switchable failure modes and hit counters.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::AsDer,
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use base64::{
    Engine, engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD as B64,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// An RSA signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Value,
    /// The public key as PEM (for the HS256-with-public-key attack).
    pub public_pem: String,
}

/// DER → PEM with the given label.
pub fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let private_der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).expect("pkcs8");
        let encoding =
            EncodingKey::from_rsa_pem(pem("PRIVATE KEY", private_der.as_ref()).as_bytes())
                .expect("encoding key");
        let public = pair.public_key();
        let public_der =
            AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(public).expect("spki");
        let jwk = json!({
            "kty": "RSA",
            "kid": kid,
            "use": "sig",
            "alg": "RS256",
            "n": B64.encode(public.modulus().big_endian_without_leading_zero()),
            "e": B64.encode(public.exponent().big_endian_without_leading_zero()),
        });
        Self {
            kid: kid.to_string(),
            encoding,
            jwk,
            public_pem: pem("PUBLIC KEY", public_der.as_ref()),
        }
    }

    /// An RS256 token with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        self.sign_with(header, claims)
    }

    pub fn sign_with(&self, header: Header, claims: &Value) -> String {
        encode(&header, claims, &self.encoding).expect("sign")
    }

    /// An RS256 token from a header and claims given as raw JSON text, signed as is:
    /// for what `Header` cannot express (`crit`) and what a serializer would never
    /// write (duplicate members).
    pub fn sign_raw(&self, header_json: &str, claims_json: &str) -> String {
        let message = format!(
            "{}.{}",
            B64.encode(header_json.as_bytes()),
            B64.encode(claims_json.as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .expect("sign");
        format!("{message}.{signature}")
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// How the issuer answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything works.
    Up,
    /// Every endpoint answers 503.
    Down,
    /// Discovery works, the JWKS endpoint answers 500.
    JwksFailing,
}

struct Inner {
    mode: Mutex<Mode>,
    published: Mutex<Vec<Value>>,
    issuer: Mutex<String>,
    cache_control: Mutex<Option<String>>,
    discovery_hits: AtomicUsize,
    jwks_hits: AtomicUsize,
    /// Token → RFC 7662 answer; any other token is `{"active": false}`.
    introspection: Mutex<std::collections::HashMap<String, Value>>,
    introspection_hits: AtomicUsize,
}

/// The client (and secret) the introspection endpoint accepts, by Basic or form.
pub const INTROSPECTION_CLIENT: (&str, &str) = ("box-mcp", "introspection-secret");

#[derive(Clone)]
pub struct TestIssuer {
    pub url: String,
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl TestIssuer {
    /// Starts an issuer publishing `keys`, on a free loopback port.
    pub async fn start(keys: &[&TestKey], mode: Mode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let url = format!("http://{addr}/realms/test");
        let inner = Arc::new(Inner {
            mode: Mutex::new(mode),
            published: Mutex::new(keys.iter().map(|k| k.jwk.clone()).collect()),
            issuer: Mutex::new(url.clone()),
            cache_control: Mutex::new(None),
            discovery_hits: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            introspection: Mutex::default(),
            introspection_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route(
                "/realms/test/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/realms/test/protocol/openid-connect/certs", get(jwks))
            .route(
                "/realms/test/protocol/openid-connect/token/introspect",
                axum::routing::post(introspect),
            )
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, addr, inner }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = mode;
    }

    pub fn publish(&self, key: &TestKey) {
        self.inner.published.lock().unwrap().push(key.jwk.clone());
    }

    pub fn withdraw(&self, kid: &str) {
        self.inner
            .published
            .lock()
            .unwrap()
            .retain(|k| k["kid"] != kid);
    }

    /// Makes the discovery document claim another issuer (a mix-up attack).
    pub fn claim_issuer(&self, issuer: &str) {
        *self.inner.issuer.lock().unwrap() = issuer.to_string();
    }

    /// The `Cache-Control` header the JWKS endpoint sends.
    pub fn set_cache_control(&self, value: Option<&str>) {
        *self.inner.cache_control.lock().unwrap() = value.map(String::from);
    }

    pub fn jwks_hits(&self) -> usize {
        self.inner.jwks_hits.load(Ordering::SeqCst)
    }

    pub fn discovery_hits(&self) -> usize {
        self.inner.discovery_hits.load(Ordering::SeqCst)
    }

    /// What the introspection endpoint answers for `token` from now on.
    pub fn set_introspection(&self, token: &str, answer: Value) {
        self.inner
            .introspection
            .lock()
            .unwrap()
            .insert(token.to_string(), answer);
    }

    pub fn introspection_hits(&self) -> usize {
        self.inner.introspection_hits.load(Ordering::SeqCst)
    }

    pub fn total_hits(&self) -> usize {
        self.jwks_hits() + self.discovery_hits()
    }

    /// Standard claims for a token this issuer would mint for `audience`.
    pub fn claims(&self, audience: &str, sub: &str) -> Value {
        let now = now();
        json!({
            "iss": self.url,
            "aud": [audience, "account"],
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "azp": "mcp-client",
            "scope": "openid mcp:tools",
            "preferred_username": sub,
            "email": format!("{sub}@example.com"),
            "realm_access": {"roles": ["mcp-viewer"]},
            "box_user_id": "31000001",
        })
    }
}

async fn discovery(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    inner.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if *inner.mode.lock().unwrap() == Mode::Down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let issuer = inner.issuer.lock().unwrap().clone();
    let base = format!(
        "http://{}",
        issuer
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
    );
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/realms/test/protocol/openid-connect/auth"),
        "token_endpoint": format!("{base}/realms/test/protocol/openid-connect/token"),
        "jwks_uri": format!("{base}/realms/test/protocol/openid-connect/certs"),
        "introspection_endpoint": format!("{base}/realms/test/protocol/openid-connect/token/introspect"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(inner): State<Arc<Inner>>) -> impl IntoResponse {
    inner.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if *inner.mode.lock().unwrap() != Mode::Up {
        return (StatusCode::INTERNAL_SERVER_ERROR, "jwks broken").into_response();
    }
    let keys = inner.published.lock().unwrap().clone();
    let mut response = Json(json!({ "keys": keys })).into_response();
    if let Some(cc) = inner.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert("cache-control", cc.parse().unwrap());
    }
    response
}

/// RFC 7662: the caller authenticates as [`INTROSPECTION_CLIENT`] (Basic with
/// form-encoded parts, or `client_id`/`client_secret` in the form), else 401.
async fn introspect(
    State(inner): State<Arc<Inner>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> impl IntoResponse {
    use base64::Engine as _;
    inner.introspection_hits.fetch_add(1, Ordering::SeqCst);
    if *inner.mode.lock().unwrap() == Mode::Down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            Some((decode(id)?, decode(secret)?))
        });
    let posted = form
        .get("client_id")
        .zip(form.get("client_secret"))
        .map(|(i, s)| (i.clone(), s.clone()));
    let (id, secret) = INTROSPECTION_CLIENT;
    let authenticated = basic
        .or(posted)
        .is_some_and(|(i, s)| i == id && s == secret);
    if !authenticated {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let token = form.get("token").cloned().unwrap_or_default();
    let answer = inner
        .introspection
        .lock()
        .unwrap()
        .get(&token)
        .cloned()
        .unwrap_or_else(|| json!({"active": false}));
    Json(answer).into_response()
}
