//! The credential broker against a local stub of Box's token endpoint (and the
//! two user endpoints the broker reads), which counts what it is asked.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use aws_lc_rs::{
    encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der},
    rsa::{KeyPair, KeySize},
    signature::KeyPair as _,
};
use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use box_mcp::{
    auth::Principal,
    broker::{AssertionClaims, Broker, BrokerError, ToolAccess},
    broker::{BoxAuth, BoxConfig, BoxMode, BoxPerUserToken, BoxUserMapping},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use pkcs8::{
    LineEnding, PrivateKeyInfoRef,
    der::Decode,
    pkcs5::pbes2::{self, EncryptionScheme, Kdf, Pbkdf2Params, Pbkdf2Prf},
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::common::Scratch;

const CLIENT_ID: &str = "stub-client";
const CLIENT_SECRET: &str = "stub-client-secret-value";
const ENTERPRISE: &str = "1100000";
const SERVICE_USER: &str = "31000000";
const READ: ToolAccess = ToolAccess::new(&["item_preview", "item_download"]);
const READ_REORDERED: ToolAccess =
    ToolAccess::new(&["item_download", "item_preview", "item_preview"]);
const WRITE: ToolAccess = ToolAccess::new(&["item_upload"]);

// ---------------------------------------------------------------- the stub

/// A scripted answer, used before the normal behaviour.
struct Scripted {
    status: u16,
    retry_after: Option<&'static str>,
    body: Value,
}

#[derive(Default)]
struct Counters {
    ccg: AtomicUsize,
    jwt: AtomicUsize,
    exchange: AtomicUsize,
    users: AtomicUsize,
    me: AtomicUsize,
    all: AtomicUsize,
}

struct StubState {
    counters: Counters,
    token_url: String,
    script: Mutex<VecDeque<Scripted>>,
    fail_always: Mutex<Option<u16>>,
    delay: Mutex<Duration>,
    expires_in: Mutex<u64>,
    issued: Mutex<HashSet<String>>,
    next: AtomicUsize,
    /// Forms of successful grants, in order, without secrets.
    grants: Mutex<Vec<HashMap<String, String>>>,
    exchanges: Mutex<Vec<HashMap<String, String>>>,
    assertions: Mutex<Vec<(Option<String>, AssertionClaims)>>,
    jti_seen: Mutex<HashSet<String>>,
    jwt_key: Option<DecodingKey>,
}

struct Stub {
    base: String,
    state: Arc<StubState>,
}

impl Stub {
    async fn start(jwt_public_pkcs1: Option<&[u8]>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let state = Arc::new(StubState {
            counters: Counters::default(),
            token_url: format!("{base}/oauth2/token"),
            script: Mutex::new(VecDeque::new()),
            fail_always: Mutex::new(None),
            delay: Mutex::new(Duration::ZERO),
            expires_in: Mutex::new(3600),
            issued: Mutex::new(HashSet::new()),
            next: AtomicUsize::new(0),
            grants: Mutex::new(Vec::new()),
            exchanges: Mutex::new(Vec::new()),
            assertions: Mutex::new(Vec::new()),
            jti_seen: Mutex::new(HashSet::new()),
            jwt_key: jwt_public_pkcs1.map(DecodingKey::from_rsa_der),
        });
        let app = Router::new()
            .route("/oauth2/token", post(token))
            .route("/2.0/users", get(users))
            .route("/2.0/users/me", get(me))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    fn config(&self) -> BoxConfig {
        BoxConfig {
            mode: BoxMode::Service,
            auth: BoxAuth::Ccg,
            api_base_url: format!("{}/2.0", self.base),
            upload_base_url: format!("{}/upload/2.0", self.base),
            token_url: format!("{}/oauth2/token", self.base),
            revoke_url: format!("{}/oauth2/revoke", self.base),
            client_id: Some(CLIENT_ID.into()),
            client_secret: Some(CLIENT_SECRET.into()),
            enterprise_id: Some(ENTERPRISE.into()),
            token_retry_initial_backoff: Duration::from_millis(20),
            ..Default::default()
        }
    }

    fn count(&self, which: fn(&Counters) -> &AtomicUsize) -> usize {
        which(&self.state.counters).load(Ordering::SeqCst)
    }

    fn script(&self, status: u16, retry_after: Option<&'static str>, body: Value) {
        self.state.script.lock().unwrap().push_back(Scripted {
            status,
            retry_after,
            body,
        });
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn token(
    State(s): State<Arc<StubState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    s.counters.all.fetch_add(1, Ordering::SeqCst);
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    match grant_type.as_str() {
        "client_credentials" => s.counters.ccg.fetch_add(1, Ordering::SeqCst),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            s.counters.jwt.fetch_add(1, Ordering::SeqCst)
        }
        "urn:ietf:params:oauth:grant-type:token-exchange" => {
            s.counters.exchange.fetch_add(1, Ordering::SeqCst)
        }
        _ => return oauth_error(400, "unsupported_grant_type", "unknown grant_type"),
    };
    let delay = *s.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let scripted = s.script.lock().unwrap().pop_front();
    if let Some(answer) = scripted {
        let mut response = (
            StatusCode::from_u16(answer.status).unwrap(),
            Json(answer.body),
        )
            .into_response();
        if let Some(r) = answer.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, r.parse().unwrap());
        }
        return response;
    }
    if let Some(status) = *s.fail_always.lock().unwrap() {
        return oauth_error(status, "temporarily_unavailable", "the stub is down");
    }

    let subject = match grant_type.as_str() {
        "client_credentials" => {
            if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
            {
                return oauth_error(400, "invalid_client", "The client credentials are invalid");
            }
            let kind = form.get("box_subject_type").cloned().unwrap_or_default();
            let id = form.get("box_subject_id").cloned().unwrap_or_default();
            if !(kind == "enterprise" && id == ENTERPRISE
                || kind == "user" && id.starts_with("3100"))
            {
                return oauth_error(400, "invalid_grant", "Grant credentials are invalid");
            }
            let mut recorded = form.clone();
            recorded.remove("client_secret");
            s.grants.lock().unwrap().push(recorded);
            format!("ccg-{kind}-{id}")
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let Some(key) = &s.jwt_key else {
                return oauth_error(400, "invalid_client", "no JWT app");
            };
            if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
                || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
            {
                return oauth_error(400, "invalid_client", "The client credentials are invalid");
            }
            let assertion = form.get("assertion").cloned().unwrap_or_default();
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_audience(&[&s.token_url]);
            validation.set_issuer(&[CLIENT_ID]);
            validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            validation.leeway = 0;
            let data = match jsonwebtoken::decode::<AssertionClaims>(&assertion, key, &validation) {
                Ok(d) => d,
                Err(e) => return oauth_error(400, "invalid_grant", &format!("bad assertion: {e}")),
            };
            let c = &data.claims;
            if data.header.kid.as_deref() != Some("stub-key")
                || c.exp > now() + 60
                || !(16..=128).contains(&c.jti.len())
                || !s.jti_seen.lock().unwrap().insert(c.jti.clone())
            {
                return oauth_error(400, "invalid_grant", "assertion rules broken");
            }
            s.assertions
                .lock()
                .unwrap()
                .push((data.header.kid.clone(), c.clone()));
            format!("jwt-{}-{}", c.box_sub_type, c.sub)
        }
        _ => {
            let parent = form.get("subject_token").cloned().unwrap_or_default();
            if !s.issued.lock().unwrap().contains(&parent)
                || form.get("subject_token_type").map(String::as_str)
                    != Some("urn:ietf:params:oauth:token-type:access_token")
                || form.get("scope").is_none_or(|sc| sc.is_empty())
            {
                return oauth_error(400, "invalid_grant", "bad subject token");
            }
            let mut recorded = form.clone();
            recorded.remove("subject_token");
            recorded.insert(
                "parent_kind".into(),
                parent.split(':').next().unwrap().to_string(),
            );
            s.exchanges.lock().unwrap().push(recorded);
            format!("down-{}", form["scope"].replace(' ', "+"))
        }
    };
    let n = s.next.fetch_add(1, Ordering::SeqCst);
    let access_token = format!("{subject}:{n}");
    s.issued.lock().unwrap().insert(access_token.clone());
    let expires_in = *s.expires_in.lock().unwrap();
    Json(json!({
        "access_token": access_token,
        "expires_in": expires_in,
        "token_type": "bearer",
        "restricted_to": [],
    }))
    .into_response()
}

fn service_bearer(s: &StubState, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| {
            s.issued.lock().unwrap().contains(t)
                && (t.starts_with("ccg-enterprise-") || t.starts_with("jwt-enterprise-"))
        })
}

async fn users(
    State(s): State<Arc<StubState>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.counters.all.fetch_add(1, Ordering::SeqCst);
    s.counters.users.fetch_add(1, Ordering::SeqCst);
    if !service_bearer(&s, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"type": "error", "status": 401, "code": "unauthorized", "message": "no"})),
        )
            .into_response();
    }
    let term = q
        .get("filter_term")
        .cloned()
        .unwrap_or_default()
        .to_lowercase();
    let all = [
        ("31000001", "alice@example.com"),
        ("31000009", "alice@example.com.au"),
        ("31000002", "bob@example.com"),
    ];
    let entries: Vec<Value> = all
        .iter()
        .filter(|(_, login)| login.starts_with(&term))
        .map(|(id, login)| json!({"type": "user", "id": id, "name": login, "login": login}))
        .collect();
    Json(json!({"total_count": entries.len(), "entries": entries})).into_response()
}

async fn me(State(s): State<Arc<StubState>>, headers: HeaderMap) -> Response {
    s.counters.all.fetch_add(1, Ordering::SeqCst);
    s.counters.me.fetch_add(1, Ordering::SeqCst);
    if !service_bearer(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"type": "user", "id": SERVICE_USER, "login": "AutomationUser@boxdevedition.com"}))
        .into_response()
}

// ---------------------------------------------------------------- helpers

fn caller(sub: &str, box_user: Option<&str>, email: Option<&str>) -> Principal {
    Principal {
        issuer: "https://idp.example.com".into(),
        subject: sub.into(),
        username: Some(sub.into()),
        email: email.map(Into::into),
        email_verified: email.is_some(),
        client_id: Some("mcp-client".into()),
        roles: vec![],
        groups: vec![],
        scopes: vec!["mcp:tools".into()],
        box_user_id: box_user.map(Into::into),
        valid_until: 0,
        bound_key: None,
    }
}

fn alice() -> Principal {
    caller("alice", Some("31000001"), Some("alice@example.com"))
}

struct TestKey {
    encrypted_pem: String,
    public_pkcs1: Vec<u8>,
}

/// An RSA key encrypted the way Box's developer console does it (PBES2,
/// PBKDF2-HMAC-SHA1, DES-EDE3-CBC).
fn jwt_key(passphrase: &str) -> TestKey {
    let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let private = AsDer::<Pkcs8V1Der>::as_der(&pair).unwrap();
    let spki = AsDer::<PublicKeyX509Der>::as_der(pair.public_key()).unwrap();
    let params = pbes2::Parameters {
        kdf: Kdf::from(Pbkdf2Params {
            salt: pbes2::Salt::new([3u8; 8]).unwrap(),
            iteration_count: 2048,
            key_length: None,
            prf: Pbkdf2Prf::HmacWithSha1,
        }),
        encryption: EncryptionScheme::DesEde3Cbc { iv: [5u8; 8] },
    };
    let encrypted = PrivateKeyInfoRef::from_der(private.as_ref())
        .unwrap()
        .encrypt_with_params(params, passphrase)
        .unwrap();
    let spki = pkcs8::SubjectPublicKeyInfoRef::from_der(spki.as_ref()).unwrap();
    TestKey {
        encrypted_pem: encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", LineEnding::LF)
            .unwrap()
            .to_string(),
        public_pkcs1: spki.subject_public_key.raw_bytes().to_vec(),
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn same_user_and_scopes_make_one_exchange() {
    let stub = Stub::start(None).await;
    let broker = Broker::new(&stub.config()).unwrap();

    let a = broker.credential(&alice(), None, &READ).await.unwrap();
    let b = broker
        .credential(&caller("bob", None, None), None, &READ_REORDERED)
        .await
        .unwrap();
    assert_eq!(a.token.expose_secret(), b.token.expose_secret());
    assert_eq!(a.as_user, None);
    assert_eq!(stub.count(|c| &c.ccg), 1);
    assert_eq!(stub.count(|c| &c.exchange), 1);

    // Other scopes: a new exchange from the cached parent.
    broker.credential(&alice(), None, &WRITE).await.unwrap();
    // One item: a new exchange restricted to it.
    broker
        .credential(&alice(), None, &READ.file("123"))
        .await
        .unwrap();
    broker
        .credential(&alice(), None, &READ.folder("0"))
        .await
        .unwrap();
    assert_eq!(stub.count(|c| &c.ccg), 1);
    assert_eq!(stub.count(|c| &c.exchange), 4);

    let grants = stub.state.grants.lock().unwrap().clone();
    assert_eq!(grants[0]["box_subject_type"], "enterprise");
    assert_eq!(grants[0]["box_subject_id"], ENTERPRISE);
    let exchanges = stub.state.exchanges.lock().unwrap().clone();
    assert_eq!(exchanges[0]["scope"], "item_download item_preview");
    assert!(!exchanges[0].contains_key("resource"));
    assert_eq!(exchanges[0]["parent_kind"], "ccg-enterprise-1100000");
    assert_eq!(exchanges[1]["scope"], "item_upload");
    assert_eq!(
        exchanges[2]["resource"],
        format!("{}/2.0/files/123", stub.base)
    );
    assert_eq!(
        exchanges[3]["resource"],
        format!("{}/2.0/folders/0", stub.base)
    );
}

#[tokio::test]
async fn fifty_concurrent_cold_calls_make_one_grant_and_one_exchange() {
    let stub = Stub::start(None).await;
    *stub.state.delay.lock().unwrap() = Duration::from_millis(200);
    let broker = Broker::new(&stub.config()).unwrap();
    let calls = (0..50).map(|_| {
        let broker = broker.clone();
        tokio::spawn(async move { broker.credential(&alice(), None, &READ).await })
    });
    let results = futures::future::join_all(calls).await;
    let tokens: HashSet<String> = results
        .into_iter()
        .map(|r| r.unwrap().unwrap().token.expose_secret().to_string())
        .collect();
    assert_eq!(tokens.len(), 1);
    assert_eq!(stub.count(|c| &c.ccg), 1);
    assert_eq!(stub.count(|c| &c.exchange), 1);
}

#[tokio::test]
async fn too_many_requests_with_retry_after_is_retried() {
    let stub = Stub::start(None).await;
    stub.script(
        429,
        Some("1"),
        json!({"error": "rate_limited", "error_description": "slow down"}),
    );
    let broker = Broker::new(&stub.config()).unwrap();
    let started = Instant::now();
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.count(|c| &c.ccg), 2);
    assert_eq!(stub.count(|c| &c.exchange), 1);
}

#[tokio::test]
async fn server_errors_on_the_exchange_are_retried() {
    let stub = Stub::start(None).await;
    let broker = Broker::new(&stub.config()).unwrap();
    broker.credential(&alice(), None, &WRITE).await.unwrap(); // warms the parent
    stub.script(502, None, json!({}));
    stub.script(503, None, json!({}));
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(stub.count(|c| &c.ccg), 1);
    assert_eq!(stub.count(|c| &c.exchange), 4);
}

#[tokio::test]
async fn persistent_server_errors_end_in_a_clear_error_within_the_bound() {
    let stub = Stub::start(None).await;
    *stub.state.fail_always.lock().unwrap() = Some(503);
    let mut config = stub.config();
    config.token_max_attempts = 10;
    config.token_retry_initial_backoff = Duration::from_millis(100);
    config.token_retry_max_elapsed = Duration::from_secs(1);
    let broker = Broker::new(&config).unwrap();
    let started = Instant::now();
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert!(matches!(err, BrokerError::Unavailable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("client-credentials grant") && text.contains("HTTP 503"),
        "{text}"
    );
    assert!(stub.count(|c| &c.ccg) >= 2, "retried");
    assert!(err.is_transient());

    // Attempts bound too.
    let mut config = stub.config();
    config.token_max_attempts = 3;
    let broker = Broker::new(&config).unwrap();
    let before = stub.count(|c| &c.ccg);
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    assert!(err.to_string().contains("3 attempts"), "{err}");
    assert_eq!(stub.count(|c| &c.ccg) - before, 3);
}

#[tokio::test]
async fn a_dead_endpoint_ends_in_a_clear_error_within_the_bound() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = BoxConfig {
        mode: BoxMode::Service,
        token_url: format!("http://127.0.0.1:{port}/oauth2/token"),
        api_base_url: format!("http://127.0.0.1:{port}/2.0"),
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
        enterprise_id: Some(ENTERPRISE.into()),
        token_max_attempts: 10,
        token_retry_initial_backoff: Duration::from_millis(100),
        token_retry_max_elapsed: Duration::from_secs(1),
        ..Default::default()
    };
    let broker = Broker::new(&config).unwrap();
    let started = Instant::now();
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, BrokerError::Unavailable { .. }), "{err}");
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn refusals_are_not_retried_and_name_box_error() {
    let stub = Stub::start(None).await;
    let mut config = stub.config();
    config.client_secret = Some("wrong-secret".into());
    let broker = Broker::new(&config).unwrap();
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    assert_eq!(stub.count(|c| &c.ccg), 1, "a 4xx is final");
    match &err {
        BrokerError::TokenEndpoint {
            status,
            error,
            description,
            ..
        } => {
            assert_eq!(*status, 400);
            assert_eq!(error, "invalid_client");
            assert_eq!(description, "The client credentials are invalid");
        }
        other => panic!("{other}"),
    }
    assert!(!err.to_string().contains("wrong-secret"));

    // An exchange refusal (here: Box says the scope is not allowed) is reported as such.
    let broker = Broker::new(&stub.config()).unwrap();
    broker.credential(&alice(), None, &WRITE).await.unwrap();
    stub.script(400, None, json!({"error": "invalid_scope", "error_description": "The requested scope is not allowed"}));
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    assert!(
        err.to_string().contains(
            "downscoping exchange (HTTP 400 invalid_scope: The requested scope is not allowed)"
        ),
        "{err}"
    );
    // Errors are not cached: the next call asks again and succeeds.
    broker.credential(&alice(), None, &READ).await.unwrap();
}

#[tokio::test]
async fn per_user_claim_mapping_gets_user_tokens() {
    let stub = Stub::start(None).await;
    let mut config = stub.config();
    config.mode = BoxMode::PerUser;
    config.user_mapping = BoxUserMapping::Claim;
    config.enterprise_id = None; // user tokens by claim need no enterprise
    let broker = Broker::new(&config).unwrap();

    let a = broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(a.as_user, None);
    let bob = caller("bob", Some("31000002"), None);
    let b = broker.credential(&bob, None, &READ).await.unwrap();
    assert_ne!(a.token.expose_secret(), b.token.expose_secret());
    assert_eq!(stub.count(|c| &c.ccg), 2);
    assert_eq!(stub.count(|c| &c.exchange), 2);
    let grants = stub.state.grants.lock().unwrap().clone();
    assert_eq!(
        (
            grants[0]["box_subject_type"].as_str(),
            grants[0]["box_subject_id"].as_str()
        ),
        ("user", "31000001")
    );
    assert_eq!(
        (
            grants[1]["box_subject_type"].as_str(),
            grants[1]["box_subject_id"].as_str()
        ),
        ("user", "31000002")
    );
    assert_eq!(broker.box_user_id(&bob, None).await.unwrap(), "31000002");

    // Cached per user: alice again makes no call.
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(stub.count(|c| &c.all), 4);
}

#[tokio::test]
async fn unmapped_callers_get_not_mapped_and_no_http_call() {
    let stub = Stub::start(None).await;
    let mut config = stub.config();
    config.mode = BoxMode::PerUser;
    let broker = Broker::new(&config).unwrap();

    let err = broker
        .credential(&caller("eve", None, Some("eve@example.com")), None, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BrokerError::NotMapped { subject, .. } if subject == "eve"),
        "{err}"
    );
    assert!(err.to_string().contains("Box user claim"), "{err}");
    assert_eq!(err.code(), "box_user_not_mapped");
    let err = broker
        .credential(&caller("mallory", Some("../31000001"), None), None, &READ)
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::NotMapped { .. }), "{err}");
    let err = broker
        .box_user_id(&caller("eve", None, None), None)
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::NotMapped { .. }), "{err}");

    // Bad tool requests are refused before any call too.
    let err = broker
        .credential(&alice(), None, &READ.file("1/../2"))
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::InvalidRequest { .. }), "{err}");
    let err = broker
        .credential(&alice(), None, &ToolAccess::new(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::InvalidRequest { .. }), "{err}");
    assert_eq!(stub.count(|c| &c.all), 0);
}

#[tokio::test]
async fn as_user_shares_the_service_token_and_sets_the_header() {
    let stub = Stub::start(None).await;
    let mut config = stub.config();
    config.mode = BoxMode::PerUser;
    config.per_user_token = BoxPerUserToken::AsUser;
    let broker = Broker::new(&config).unwrap();
    let a = broker.credential(&alice(), None, &READ).await.unwrap();
    let b = broker
        .credential(&caller("bob", Some("31000002"), None), None, &READ)
        .await
        .unwrap();
    assert_eq!(a.as_user.as_deref(), Some("31000001"));
    assert_eq!(b.as_user.as_deref(), Some("31000002"));
    assert_eq!(a.token.expose_secret(), b.token.expose_secret());
    assert_eq!(stub.count(|c| &c.ccg), 1);
    assert_eq!(stub.count(|c| &c.exchange), 1);
    assert_eq!(
        stub.state.grants.lock().unwrap()[0]["box_subject_type"],
        "enterprise"
    );
    assert!(
        !format!("{a:?}").contains(a.token.expose_secret()),
        "Debug shows no token"
    );
}

#[tokio::test]
async fn email_mapping_looks_the_user_up_once_with_an_exact_match() {
    let stub = Stub::start(None).await;
    let mut config = stub.config();
    config.mode = BoxMode::PerUser;
    config.user_mapping = BoxUserMapping::Email;
    let broker = Broker::new(&config).unwrap();

    let by_email = caller("a-sub", None, Some("Alice@Example.com"));
    assert_eq!(
        broker.box_user_id(&by_email, None).await.unwrap(),
        "31000001"
    );
    broker.credential(&by_email, None, &READ).await.unwrap();
    broker.credential(&by_email, None, &WRITE).await.unwrap();
    assert_eq!(stub.count(|c| &c.users), 1, "lookup cached");
    let grants = stub.state.grants.lock().unwrap().clone();
    assert_eq!(
        grants[0]["box_subject_type"], "enterprise",
        "lookup with the service token"
    );
    assert_eq!(
        (
            grants[1]["box_subject_type"].as_str(),
            grants[1]["box_subject_id"].as_str()
        ),
        ("user", "31000001")
    );

    let err = broker
        .credential(&caller("z", None, Some("zed@example.com")), None, &READ)
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::NotMapped { .. }), "{err}");
    assert!(err.to_string().contains("zed@example.com"), "{err}");
    let err = broker
        .credential(&caller("n", None, None), None, &READ)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no email claim"), "{err}");

    // An email the IdP did not verify identifies nobody, and Box is not asked.
    let users_before = stub.count(|c| &c.users);
    let mut unverified = caller("u", None, Some("alice@example.com"));
    unverified.email_verified = false;
    let err = broker
        .credential(&unverified, None, &READ)
        .await
        .unwrap_err();
    assert!(matches!(err, BrokerError::NotMapped { .. }), "{err}");
    assert!(err.to_string().contains("not verified"), "{err}");
    assert_eq!(stub.count(|c| &c.users), users_before, "no lookup");
}

#[tokio::test]
async fn file_mapping_maps_by_subject_username_or_email() {
    let stub = Stub::start(None).await;
    let scratch = Scratch::new();
    let path = scratch.write(
        "users.toml",
        "[subjects]\n\"sub-alice\" = \"31000001\"\n[usernames]\nbob = 31000002\n[emails]\n\"carol@example.com\" = \"31000003\"\n",
    );
    let mut config = stub.config();
    config.mode = BoxMode::PerUser;
    config.user_mapping = BoxUserMapping::File;
    config.mapping_file = Some(path.clone());
    let broker = Broker::new(&config).unwrap();

    assert_eq!(
        broker
            .box_user_id(&caller("sub-alice", None, None), None)
            .await
            .unwrap(),
        "31000001"
    );
    assert_eq!(
        broker
            .box_user_id(&caller("bob", None, None), None)
            .await
            .unwrap(),
        "31000002"
    );
    assert_eq!(
        broker
            .box_user_id(&caller("x", None, Some("CAROL@example.com")), None)
            .await
            .unwrap(),
        "31000003"
    );
    let err = broker
        .credential(&caller("dave", Some("31000004"), None), None, &READ)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("box.mapping_file"), "{err}");
    assert_eq!(stub.count(|c| &c.all), 0);

    broker
        .credential(&caller("bob", None, None), None, &READ)
        .await
        .unwrap();
    assert_eq!(
        stub.state.grants.lock().unwrap()[0]["box_subject_id"],
        "31000002"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn jwt_assertions_verify_with_the_public_key() {
    let key = jwt_key("box-passphrase");
    let stub = Stub::start(Some(&key.public_pkcs1)).await;
    let app = json!({
        "boxAppSettings": {
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "appAuth": {"publicKeyID": "stub-key", "privateKey": key.encrypted_pem, "passphrase": "box-passphrase"}
        },
        "enterpriseID": ENTERPRISE
    });
    let scratch = Scratch::new();
    let path = scratch.write("config.json", &app.to_string());
    let mut config = stub.config();
    config.auth = BoxAuth::Jwt;
    config.client_id = None;
    config.client_secret = None;
    config.enterprise_id = None; // from the file
    config.jwt_config_file = Some(path.clone());

    // Service: an enterprise assertion.
    let broker = Broker::new(&config).unwrap();
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(
        broker.box_user_id(&alice(), None).await.unwrap(),
        SERVICE_USER
    );
    assert_eq!(
        broker.box_user_id(&alice(), None).await.unwrap(),
        SERVICE_USER
    );
    assert_eq!(stub.count(|c| &c.me), 1, "learned once");
    assert_eq!(stub.count(|c| &c.jwt), 1);

    // Per user: a user assertion.
    config.mode = BoxMode::PerUser;
    let broker = Broker::new(&config).unwrap();
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(stub.count(|c| &c.jwt), 2);
    assert_eq!(stub.count(|c| &c.exchange), 2);

    let assertions = stub.state.assertions.lock().unwrap().clone();
    let (kid, enterprise) = &assertions[0];
    assert_eq!(kid.as_deref(), Some("stub-key"));
    assert_eq!(
        (enterprise.sub.as_str(), enterprise.box_sub_type.as_str()),
        (ENTERPRISE, "enterprise")
    );
    assert_eq!(enterprise.iss, CLIENT_ID);
    assert_eq!(enterprise.aud, format!("{}/oauth2/token", stub.base));
    let (_, user) = &assertions[1];
    assert_eq!(
        (user.sub.as_str(), user.box_sub_type.as_str()),
        ("31000001", "user")
    );
    assert_ne!(enterprise.jti, user.jti);
    assert!(user.exp <= now() + 60);
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn each_jwt_retry_carries_a_fresh_assertion() {
    let key = jwt_key("pw");
    let stub = Stub::start(Some(&key.public_pkcs1)).await;
    let app = json!({
        "boxAppSettings": {"clientID": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "appAuth": {"publicKeyID": "stub-key", "privateKey": key.encrypted_pem, "passphrase": "pw"}},
        "enterpriseID": ENTERPRISE
    });
    let scratch = Scratch::new();
    let path = scratch.write("config.json", &app.to_string());
    let mut config = stub.config();
    config.auth = BoxAuth::Jwt;
    config.jwt_config_file = Some(path.clone());
    let broker = Broker::new(&config).unwrap();
    stub.script(500, None, json!({}));
    broker.credential(&alice(), None, &READ).await.unwrap();
    // The stub refuses a reused jti, so the success proves the retry re-signed.
    assert_eq!(stub.count(|c| &c.jwt), 2);
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn tokens_are_fetched_again_when_they_near_expiry() {
    let stub = Stub::start(None).await;
    *stub.state.expires_in.lock().unwrap() = 2; // refreshed at half life: 1 s
    let broker = Broker::new(&stub.config()).unwrap();
    broker.credential(&alice(), None, &READ).await.unwrap();
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(stub.count(|c| &c.exchange), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    broker.credential(&alice(), None, &READ).await.unwrap();
    assert_eq!(stub.count(|c| &c.ccg), 2);
    assert_eq!(stub.count(|c| &c.exchange), 2);
}

#[tokio::test]
async fn forget_drops_the_cached_tokens() {
    let stub = Stub::start(None).await;
    let broker = Broker::new(&stub.config()).unwrap();
    let first = broker.credential(&alice(), None, &READ).await.unwrap();
    broker.forget(&alice(), &READ).await;
    let second = broker.credential(&alice(), None, &READ).await.unwrap();
    assert_ne!(first.token.expose_secret(), second.token.expose_secret());
    assert_eq!(stub.count(|c| &c.ccg), 2);
    assert_eq!(stub.count(|c| &c.exchange), 2);
}

#[tokio::test]
async fn a_disabled_broker_says_so() {
    let broker = Broker::new(&BoxConfig::default()).unwrap();
    assert!(!broker.is_enabled());
    let err = broker.credential(&alice(), None, &READ).await.unwrap_err();
    assert_eq!(err, BrokerError::Disabled);
    assert!(err.to_string().contains("box.mode"), "{err}");
    assert_eq!(
        broker.box_user_id(&alice(), None).await.unwrap_err(),
        BrokerError::Disabled
    );
}
