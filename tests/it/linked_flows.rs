//! Linked Box accounts through the broker's public API, against box-sandbox and a
//! stub IdP that speaks two dialects: Auth0's Token Vault exchange at
//! `/oauth/token` (the documented grant and its error answers; there is no Auth0
//! here), and Keycloak's token exchange plus `GET /broker/box/token` with its error
//! answers. Also: the IdP down and back, Box's token endpoint down and back, all
//! without a restart.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use box_mcp::{
    auth::Principal,
    broker::{BoxConfig, BoxMode, BoxPerUserToken, Broker, BrokerError, ToolAccess},
    linked::{
        AUTH0_TOKEN_VAULT_GRANT, AUTH0_TOKEN_VAULT_TYPE, LinkError, LinkedConfig, LinkedProvider,
    },
};
use box_sandbox::{FaultSpec, Sandbox, SandboxConfig, fixture};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::common::{Fixture, now};

const READ: ToolAccess = ToolAccess::new(&["item_preview"]);
const VAULT_CLIENT: &str = "box-mcp-api-client";
const VAULT_SECRET: &str = "vault-client-secret";
const LINK_URL: &str = "https://app.example.com/connect/box";

/// What the stub IdP holds: for each caller subject, the Box token of their
/// linked account (or none), and the scripted failures.
struct IdpState {
    /// caller token → Box token (None: not linked).
    links: Mutex<HashMap<String, Option<String>>>,
    /// Keycloak dialect: answer the broker endpoint with this status instead.
    broker_status: Mutex<Option<u16>>,
    exchanges: AtomicUsize,
    /// Every form field name and value the stub received (to prove what was sent).
    seen: Mutex<Vec<HashMap<String, String>>>,
}

struct Idp {
    base: String,
    state: Arc<IdpState>,
    task: tokio::task::JoinHandle<()>,
}

async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<IdpState>,
) -> tokio::task::JoinHandle<()> {
    let app = Router::new()
        .route("/oauth/token", post(vault))
        .route("/protocol/openid-connect/token", post(keycloak_exchange))
        .route("/broker/box/token", get(keycloak_stored))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

impl Idp {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(IdpState {
            links: Mutex::default(),
            broker_status: Mutex::default(),
            exchanges: AtomicUsize::new(0),
            seen: Mutex::default(),
        });
        let task = serve(listener, state.clone()).await;
        Self {
            base: format!("http://{addr}"),
            state,
            task,
        }
    }

    fn link(&self, caller_token: &str, box_token: Option<&str>) {
        self.state
            .links
            .lock()
            .unwrap()
            .insert(caller_token.into(), box_token.map(str::to_string));
    }

    /// Stops answering (connection refused) until [`Idp::restart`].
    fn stop(&self) {
        self.task.abort();
    }

    async fn restart(&mut self) {
        let addr: SocketAddr = self.base.trim_start_matches("http://").parse().unwrap();
        let mut listener = None;
        for _ in 0..50 {
            if let Ok(l) = tokio::net::TcpListener::bind(addr).await {
                listener = Some(l);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.task = serve(listener.expect("rebind the stub IdP"), self.state.clone()).await;
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": format!("stub: {error}")})),
    )
        .into_response()
}

/// Auth0's federated connection access token exchange.
async fn vault(State(s): State<Arc<IdpState>>, Form(f): Form<HashMap<String, String>>) -> Response {
    s.exchanges.fetch_add(1, Ordering::SeqCst);
    s.seen.lock().unwrap().push(f.clone());
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if field("client_id") != VAULT_CLIENT || field("client_secret") != VAULT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied");
    }
    if field("grant_type") != AUTH0_TOKEN_VAULT_GRANT {
        return oauth_error(StatusCode::FORBIDDEN, "unauthorized_client");
    }
    if field("subject_token_type") != "urn:ietf:params:oauth:token-type:access_token"
        || field("requested_token_type") != AUTH0_TOKEN_VAULT_TYPE
        || field("connection") != "box"
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    match s.links.lock().unwrap().get(field("subject_token")) {
        None => oauth_error(StatusCode::UNAUTHORIZED, "invalid_grant"),
        Some(None) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "federated_connection_refresh_token_not_found",
        ),
        Some(Some(box_token)) => Json(json!({
            "access_token": box_token,
            "expires_in": 3600,
            "scope": "root_readwrite",
            "issued_token_type": AUTH0_TOKEN_VAULT_TYPE,
            "token_type": "Bearer",
        }))
        .into_response(),
    }
}

/// Keycloak's standard token exchange: the caller's token for one of box-mcp's
/// (here: the same string, prefixed).
async fn keycloak_exchange(
    State(s): State<Arc<IdpState>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.exchanges.fetch_add(1, Ordering::SeqCst);
    s.seen.lock().unwrap().push(f.clone());
    if f.get("client_secret").map(String::as_str) != Some(VAULT_SECRET) {
        return oauth_error(StatusCode::UNAUTHORIZED, "unauthorized_client");
    }
    let subject = f.get("subject_token").cloned().unwrap_or_default();
    if !s.links.lock().unwrap().contains_key(&subject) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_token");
    }
    Json(json!({"access_token": format!("box-mcp:{subject}"), "expires_in": 300})).into_response()
}

/// Keycloak's broker token endpoint.
async fn keycloak_stored(State(s): State<Arc<IdpState>>, headers: HeaderMap) -> Response {
    if let Some(status) = *s.broker_status.lock().unwrap() {
        let status = StatusCode::from_u16(status).unwrap();
        return (status, Json(json!({"errorMessage": "stub: scripted"}))).into_response();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer box-mcp:"))
        .unwrap_or("")
        .to_string();
    match s.links.lock().unwrap().get(&bearer) {
        Some(Some(box_token)) => Json(json!({
            "access_token": box_token,
            "expires_in": 3600,
            "refresh_token": "never-used-by-box-mcp",
            "accessTokenExpiration": now() + 3600,
            "token_type": "bearer",
        }))
        .into_response(),
        Some(None) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"errorMessage": "User is not associated with identity provider [box]."})),
        )
            .into_response(),
        None => StatusCode::FORBIDDEN.into_response(),
    }
}

/// A caller and their IdP access token (opaque to the broker: it only passes it
/// on to the IdP).
async fn caller(sub: &str) -> (Principal, String) {
    let principal = Principal {
        issuer: "https://idp.example.com/".into(),
        subject: sub.into(),
        username: None,
        email: None,
        email_verified: false,
        client_id: Some("mcp-client".into()),
        roles: vec![],
        groups: vec![],
        scopes: vec!["mcp:tools".into()],
        box_user_id: None,
        valid_until: now() + 600,
        bound_key: None,
    };
    (
        principal,
        format!("idp-access-token-of-{sub}-{}", uuid::Uuid::new_v4()),
    )
}

/// A Box user token from the sandbox, standing in for what the IdP stored.
async fn box_user_token(sandbox: &Sandbox, user: &str) -> String {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "client_credentials"),
            ("client_id", fixture::CCG_CLIENT_ID),
            ("client_secret", fixture::CCG_CLIENT_SECRET),
            ("box_subject_type", "user"),
            ("box_subject_id", user),
        ])
        .finish();
    let body: Value = reqwest::Client::new()
        .post(sandbox.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Linked accounts at the stub IdP in `provider`'s dialect (the stub serves both
/// at its root, so the URLs are given, not derived from an issuer).
fn config(sandbox: &Sandbox, idp: &Idp, provider: LinkedProvider) -> BoxConfig {
    let base = sandbox.base_url();
    let (token_url, broker_token_url) = match provider {
        LinkedProvider::Auth0 => (format!("{}/oauth/token", idp.base), None),
        LinkedProvider::Keycloak => (
            format!("{}/protocol/openid-connect/token", idp.base),
            Some(format!("{}/broker/box/token", idp.base)),
        ),
    };
    BoxConfig {
        mode: BoxMode::PerUser,
        per_user_token: BoxPerUserToken::Linked,
        api_base_url: format!("{base}/2.0"),
        upload_base_url: format!("{base}/api/2.0"),
        token_url: sandbox.token_url(),
        revoke_url: sandbox.revoke_url(),
        token_max_attempts: 2,
        token_retry_initial_backoff: Duration::from_millis(20),
        token_retry_max_elapsed: Duration::from_secs(2),
        linked: LinkedConfig {
            provider,
            client_id: Some(VAULT_CLIENT.into()),
            client_secret: Some(VAULT_SECRET.to_string().into()),
            link_url: Some(LINK_URL.into()),
            token_url: Some(token_url),
            broker_token_url,
            timeout: Duration::from_secs(2),
            ..LinkedConfig::default()
        },
        ..BoxConfig::default()
    }
}

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default()).await.unwrap()
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

/// `caller`'s credential for `access`, with their IdP token.
async fn credential(
    broker: &Broker,
    caller: &Principal,
    token: &str,
    access: &ToolAccess,
) -> Result<box_mcp::broker::BoxCredential, BrokerError> {
    broker
        .credential(caller, Some(&secret(token)), access)
        .await
}

#[tokio::test]
async fn auth0_token_vault_gives_the_callers_box_token_downscoped_per_call_and_cached() {
    let sb = sandbox().await;
    let idp = Idp::start().await;
    let (alice, alice_token) = caller("auth0|alice").await;
    idp.link(
        &alice_token,
        Some(&box_user_token(&sb, fixture::ALICE).await),
    );
    sb.clear_requests();
    let broker = Broker::new(&config(&sb, &idp, LinkedProvider::Auth0)).unwrap();
    assert!(broker.uses_linked_accounts());

    let a = credential(&broker, &alice, &alice_token, &READ)
        .await
        .unwrap();
    let b = credential(&broker, &alice, &alice_token, &READ)
        .await
        .unwrap();
    assert_eq!(a.token.expose_secret(), b.token.expose_secret(), "cached");
    assert_eq!(
        idp.state.exchanges.load(Ordering::SeqCst),
        1,
        "one vault exchange"
    );
    assert!(a.as_user.is_none());
    assert_eq!(
        broker
            .box_user_id(&alice, Some(&secret(&alice_token)))
            .await
            .unwrap(),
        fixture::ALICE
    );

    // The vault request is Auth0's documented one.
    let seen = idp.state.seen.lock().unwrap()[0].clone();
    assert_eq!(seen["grant_type"], AUTH0_TOKEN_VAULT_GRANT);
    assert_eq!(seen["connection"], "box");
    assert_eq!(seen["subject_token"], alice_token);
    // Box saw a downscoped token holding exactly the tool's scopes, and never the
    // IdP token.
    let log = sb.requests();
    let exchanges: Vec<_> = log
        .iter()
        .filter_map(|e| e.oauth.as_ref())
        .filter(|o| {
            o.grant_type.as_deref() == Some("urn:ietf:params:oauth:grant-type:token-exchange")
        })
        .collect();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(
        exchanges[0].issued_scopes.as_deref(),
        Some(&["item_preview".to_string()][..])
    );
    let all = serde_json::to_string(&log).unwrap();
    assert!(!all.contains(&alice_token));
}

#[tokio::test]
async fn auth0_errors_become_clear_answers() {
    let sb = sandbox().await;
    let idp = Idp::start().await;
    let (bob, bob_token) = caller("auth0|bob").await;
    idp.link(&bob_token, None);
    let broker = Broker::new(&config(&sb, &idp, LinkedProvider::Auth0)).unwrap();

    // Not connected: the link URL.
    let err = credential(&broker, &bob, &bob_token, &READ)
        .await
        .unwrap_err();
    match &err {
        BrokerError::Linked(LinkError::NotLinked { link_url, .. }) => {
            assert_eq!(link_url, LINK_URL)
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains(LINK_URL), "{err}");
    // An unknown subject token: the link is broken (Auth0 answers invalid_grant).
    let (eve, eve_token) = caller("auth0|eve").await;
    let err = credential(&broker, &eve, &eve_token, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::Broken { .. })),
        "{err:?}"
    );
    // No caller token (stdio): said plainly, nothing sent.
    let before = idp.state.exchanges.load(Ordering::SeqCst);
    let err = broker.credential(&bob, None, &READ).await.unwrap_err();
    assert_eq!(err, BrokerError::Linked(LinkError::NoCallerToken));
    assert_eq!(idp.state.exchanges.load(Ordering::SeqCst), before);
    // Wrong client credentials: box-mcp itself is refused, not the user.
    let mut cfg = config(&sb, &idp, LinkedProvider::Auth0);
    cfg.linked.client_secret = Some("wrong".to_string().into());
    let err = Broker::new(&cfg)
        .unwrap()
        .credential(&bob, Some(&secret(&bob_token)), &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::Refused(_))),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("wrong"),
        "no secret in messages: {err}"
    );
}

#[tokio::test]
async fn keycloak_answers_not_linked_and_refresh_failures_as_link_again() {
    let sb = sandbox().await;
    let idp = Idp::start().await;
    let (carol, carol_token) = caller("carol").await;
    let broker = Broker::new(&config(&sb, &idp, LinkedProvider::Keycloak)).unwrap();
    idp.link(&carol_token, None);
    let err = credential(&broker, &carol, &carol_token, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::NotLinked { .. })),
        "{err:?}"
    );

    idp.link(
        &carol_token,
        Some(&box_user_token(&sb, fixture::CAROL).await),
    );
    credential(&broker, &carol, &carol_token, &READ)
        .await
        .expect("linked now");

    // Keycloak could not renew the token at Box (502): link again.
    let (dave, dave_token) = caller("dave").await;
    idp.link(&dave_token, Some("whatever"));
    *idp.state.broker_status.lock().unwrap() = Some(502);
    let err = credential(&broker, &dave, &dave_token, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::Broken { .. })),
        "{err:?}"
    );
    *idp.state.broker_status.lock().unwrap() = None;

    // A stored token that Box refuses (revoked at Box): link again, not an
    // internal error, and the cached copy is dropped.
    let err = credential(&broker, &dave, &dave_token, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::Broken { .. })),
        "{err:?}"
    );
    idp.link(&dave_token, Some(&box_user_token(&sb, fixture::DAVE).await));
    credential(&broker, &dave, &dave_token, &READ)
        .await
        .expect("the new link works without a restart");
}

#[tokio::test]
async fn the_idp_down_and_boxs_token_endpoint_down_are_transient_and_recover_without_a_restart() {
    let sb = sandbox().await;
    let mut idp = Idp::start().await;
    let (alice, alice_token) = caller("alice").await;
    idp.link(
        &alice_token,
        Some(&box_user_token(&sb, fixture::ALICE).await),
    );
    let broker = Broker::new(&config(&sb, &idp, LinkedProvider::Keycloak)).unwrap();

    idp.stop();
    let started = std::time::Instant::now();
    let err = credential(&broker, &alice, &alice_token, &READ)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BrokerError::Linked(LinkError::Unavailable(_))),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    idp.restart().await;
    credential(&broker, &alice, &alice_token, &READ)
        .await
        .expect("the IdP is back");

    // Box's token endpoint down: the downscoping fails transiently, then works.
    sb.add_fault(
        serde_json::from_value::<FaultSpec>(json!({"path": "/oauth2/token", "status": 503}))
            .unwrap(),
    )
    .unwrap();
    let other = ToolAccess::new(&["item_download"]);
    let err = credential(&broker, &alice, &alice_token, &other)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    sb.clear_faults();
    credential(&broker, &alice, &alice_token, &other)
        .await
        .expect("Box is back");
}

#[tokio::test]
async fn a_client_that_can_open_urls_gets_the_link_as_a_url_elicitation_others_as_a_tool_error() {
    let sb = sandbox().await;
    let idp = Idp::start().await;
    let base = sb.base_url().to_string();
    let (api, upload) = (format!("{base}/2.0"), format!("{base}/api/2.0"));
    let (token_url, revoke_url) = (sb.token_url(), sb.revoke_url());
    let vault = format!("{}/oauth/token", idp.base);
    let f = Fixture::start(&[
        ("BOX_MCP_BOX__MODE", "per_user"),
        ("BOX_MCP_BOX__PER_USER_TOKEN", "linked"),
        ("BOX_MCP_BOX__API_BASE_URL", &api),
        ("BOX_MCP_BOX__UPLOAD_BASE_URL", &upload),
        ("BOX_MCP_BOX__TOKEN_URL", &token_url),
        ("BOX_MCP_BOX__REVOKE_URL", &revoke_url),
        ("BOX_MCP_BOX__LINKED__PROVIDER", "auth0"),
        ("BOX_MCP_BOX__LINKED__CLIENT_ID", VAULT_CLIENT),
        ("BOX_MCP_BOX__LINKED__CLIENT_SECRET", VAULT_SECRET),
        ("BOX_MCP_BOX__LINKED__TOKEN_URL", &vault),
        ("BOX_MCP_BOX__LINKED__LINK_URL", LINK_URL),
    ])
    .await;
    let token = f.token("erin"); // may call the read tools
    idp.link(&token, None);
    let call = json!({"name": "box_whoami", "arguments": {}});

    let session = f
        .server
        .initialize_with(&token, json!({"elicitation": {"url": {}}}))
        .await;
    let reply = f
        .server
        .rpc(&token, session.as_deref(), "tools/call", call.clone())
        .await;
    let rpc = reply.json_rpc();
    assert_eq!(rpc["error"]["code"], -32042, "{rpc}");
    let elicitation = &rpc["error"]["data"]["elicitations"][0];
    assert_eq!(elicitation["mode"], "url");
    assert_eq!(elicitation["url"], LINK_URL);
    assert!(!elicitation["elicitationId"].as_str().unwrap().is_empty());

    let session = f.server.initialize(&token).await;
    let reply = f
        .server
        .rpc(&token, session.as_deref(), "tools/call", call)
        .await;
    let rpc = reply.json_rpc();
    let content = &rpc["result"]["structuredContent"];
    assert_eq!(rpc["result"]["isError"], true, "{rpc}");
    assert_eq!(content["error"], "box_account_not_linked");
    assert_eq!(content["link_url"], LINK_URL);
    assert!(content["message"].as_str().unwrap().contains(LINK_URL));

    // A linked caller: the Box token the IdP hands out appears in no tool result and
    // no log line.
    let linked = f.token("frank");
    let box_token = box_user_token(&sb, fixture::BOB).await;
    idp.link(&linked, Some(&box_token));
    let session = f.server.initialize(&linked).await;
    let reply = f
        .server
        .rpc(
            &linked,
            session.as_deref(),
            "tools/call",
            json!({"name": "box_whoami", "arguments": {}}),
        )
        .await;
    let rpc = reply.json_rpc();
    assert_eq!(
        rpc["result"]["structuredContent"]["id"],
        fixture::BOB,
        "{rpc}"
    );
    assert!(
        !reply.body.contains(&box_token),
        "no Box token in the tool result"
    );

    let logs = f.server.stop().await.join("\n");
    assert!(!logs.contains(&token), "the caller's token is never logged");
    assert!(
        !logs.contains(&linked),
        "the caller's token is never logged"
    );
    assert!(!logs.contains(&box_token), "the Box token is never logged");
}
