//! Linked Box accounts against the real Keycloak: users link their own Box account
//! (a box-sandbox user outside the app's enterprise) at Keycloak, and box-mcp
//! fetches it by token exchange and downscopes it per call.
//!
//! `scripts/test.sh` starts one box-sandbox for these tests before Keycloak
//! (`BOX_MCP_TEST_SANDBOX_URL`): the realm's `box` identity provider points at it,
//! its access tokens live 15 s, and Keycloak renews them 5 s before they expire
//! (`BOX_MCP_BOX_MIN_VALIDITY`). Each test uses its own realm user and Box user,
//! so they can share it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    common::{ServerProcess, box_env::assert_no_panic, browser::Browser, proxy::Proxy},
    keycloak::{Admin, KeycloakEnv, REALM, REALM_KEYS, mcp_token},
};

const CLIENT_SECRET: &str = "box-mcp-dev-secret";

/// The sandbox is shared: a test that injects faults into it holds this exclusively,
/// the others share it.
static SANDBOX_FAULTS: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn sandbox_url() -> String {
    std::env::var("BOX_MCP_TEST_SANDBOX_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .expect("BOX_MCP_TEST_SANDBOX_URL is not set: run through scripts/test.sh")
        .trim_end_matches('/')
        .to_string()
}

/// The realm users' fixed ids (keycloak/box-mcp-realm.json).
fn user_id(user: &str) -> &'static str {
    match user {
        "alice" => "a1a1a1a1-0000-4000-8000-000000000001",
        "bob" => "b0b0b0b0-0000-4000-8000-000000000002",
        "carol" => "ca401000-0000-4000-8000-000000000003",
        other => panic!("no fixed id for {other}"),
    }
}

/// Removes `user`'s Box link at Keycloak (admin API); a missing link is fine.
async fn unlink(admin: &Admin, user: &str) {
    admin
        .delete(&format!(
            "/{REALM}/users/{}/federated-identity/box",
            user_id(user)
        ))
        .await;
}

/// box-mcp with linked accounts at the realm, Box at the shared sandbox.
async fn linked_server(kc: &KeycloakEnv, extra: &[(&str, &str)]) -> ServerProcess {
    let sb = sandbox_url();
    let urls = [
        format!("{sb}/2.0"),
        format!("{sb}/api/2.0"),
        format!("{sb}/oauth2/token"),
        format!("{sb}/oauth2/revoke"),
    ];
    let mut env = vec![
        ("BOX_MCP_BOX__MODE", "per_user"),
        ("BOX_MCP_BOX__PER_USER_TOKEN", "linked"),
        ("BOX_MCP_BOX__LINKED__CLIENT_ID", "box-mcp"),
        ("BOX_MCP_BOX__LINKED__CLIENT_SECRET", CLIENT_SECRET),
        ("BOX_MCP_BOX__LINKED__CACHE_TTL", "2s"),
        ("BOX_MCP_BOX__EXPIRY_MARGIN", "2s"),
        ("BOX_MCP_BOX__API_BASE_URL", urls[0].as_str()),
        ("BOX_MCP_BOX__UPLOAD_BASE_URL", urls[1].as_str()),
        ("BOX_MCP_BOX__TOKEN_URL", urls[2].as_str()),
        ("BOX_MCP_BOX__REVOKE_URL", urls[3].as_str()),
    ];
    env.extend_from_slice(extra);
    kc.server(&env).await
}

/// One caller's MCP session.
struct Caller<'a> {
    server: &'a ServerProcess,
    token: String,
    session: Option<String>,
}

impl<'a> Caller<'a> {
    async fn new(server: &'a ServerProcess, token: String) -> Self {
        let session = server.initialize(&token).await;
        Self {
            server,
            token,
            session,
        }
    }
}

/// `tools/call` with arguments; returns the JSON-RPC message.
async fn call(caller: &Caller<'_>, tool: &str, arguments: Value) -> Value {
    let reply = caller
        .server
        .rpc(
            &caller.token,
            caller.session.as_deref(),
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{tool}: {}", reply.body);
    reply.json_rpc()
}

/// The structured result of a successful call.
fn ok(rpc: &Value) -> &Value {
    let result = &rpc["result"];
    assert_ne!(result["isError"], true, "the call failed: {rpc}");
    &result["structuredContent"]
}

/// The structured error of a failed call.
fn tool_error(rpc: &Value) -> &Value {
    let result = &rpc["result"];
    assert_eq!(result["isError"], true, "the call succeeded: {rpc}");
    &result["structuredContent"]
}

/// The sign-in a user does in their browser: the link URL box-mcp gave, Keycloak's
/// login and "link Box" page, then the sandbox's login and consent as `box_login`,
/// back to Keycloak, which ends in its account console.
async fn link_box_account(
    kc: &KeycloakEnv,
    link_url: &str,
    user: &str,
    box_login: &str,
    box_password: &str,
) {
    let browser = Browser::new();
    let account = format!("{}/account/", kc.issuer(REALM));
    let login = browser.open(link_url, None).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.html);
    let form = login
        .form()
        .set("username", user)
        .set("password", &format!("{user}-password"));
    let confirm = browser.submit(&form, None).await;
    assert!(
        confirm.html.contains("link-idp-action"),
        "Keycloak asks to link Box: {}",
        confirm.html
    );
    let box_login_page = browser.submit(&confirm.form(), None).await;
    assert!(
        box_login_page.url.as_str().starts_with(&sandbox_url()),
        "on to Box's sign-in: {}",
        box_login_page.url
    );
    let form = box_login_page
        .form()
        .set("login", box_login)
        .set("password", box_password)
        .set("action", "login");
    let consent = browser.submit(&form, None).await;
    assert!(
        consent.html.contains("Grant access to Box"),
        "{}",
        consent.html
    );
    let done = browser
        .submit(&consent.form().set("action", "grant"), Some(&account))
        .await;
    assert!(
        done.url.as_str().contains("kc_action_status=success"),
        "Keycloak linked the account: {}",
        done.url
    );
}

async fn sandbox_log() -> Vec<Value> {
    let body: Value = reqwest::get(format!("{}/_sandbox/requests", sandbox_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["entries"].as_array().cloned().unwrap_or_default()
}

/// Waits until `check` holds, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{what} did not happen within {limit:?}");
}

#[tokio::test]
async fn a_user_links_their_own_box_account_and_box_mcp_acts_as_it_renewed_across_refreshes() {
    let _shared = REALM_KEYS.read().await;
    let _sandbox = SANDBOX_FAULTS.read().await;
    let kc = KeycloakEnv::get();
    let admin = Admin::new(&kc);
    // A link left over from an earlier, interrupted run.
    unlink(&admin, "alice").await;
    let server = linked_server(&kc, &[]).await;
    let token = mcp_token(&kc, "alice").await;
    let caller = Caller::new(&server, token.clone()).await;

    // Not linked yet: a clear answer with the link URL, and nothing reached Box.
    let first = call(&caller, "box_whoami", json!({})).await;
    let error = tool_error(&first);
    assert_eq!(error["error"], "box_account_not_linked", "{first}");
    let link_url = error["link_url"].as_str().expect("a link URL").to_string();
    assert!(link_url.contains("kc_action=idp_link%3Abox"), "{link_url}");
    assert!(error["message"].as_str().unwrap().contains(&link_url));

    link_box_account(
        &kc,
        &link_url,
        "alice",
        "nora@northwind.example",
        "nora-box",
    )
    .await;

    // Now the same call works, as Nora (another enterprise's user).
    let since = sandbox_log()
        .await
        .last()
        .map_or(0, |e| e["seq"].as_u64().unwrap());
    let me = call(&caller, "box_whoami", json!({})).await;
    assert_eq!(ok(&me)["id"], "41000001", "{me}");
    let items = call(&caller, "box_folder_list", json!({"folder_id": "0"})).await;
    let names: Vec<&str> = ok(&items)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(names, ["Nora Private"], "{items}");

    // At Box: every API call for Nora carried a downscoped token holding exactly
    // the tool's scopes (both tools declare item_preview), never a parent token.
    // (The log is shared with the other linked test: only Nora's calls count.)
    let log: Vec<Value> = sandbox_log()
        .await
        .into_iter()
        .filter(|e| e["seq"].as_u64().unwrap() > since)
        .collect();
    let noras: Vec<&Value> = log
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/2.0/"))
        .filter(|e| e["token"]["subject"] == "41000001")
        .collect();
    assert!(noras.len() >= 2, "{log:?}");
    for e in &noras {
        assert_eq!(
            e["token"]["kind"], "downscoped",
            "only downscoped tokens reach the API: {e}"
        );
        assert_eq!(e["token"]["scopes"], json!(["item_preview"]), "{e}");
        assert_eq!(e["status"], 200, "{e}");
    }
    let all = serde_json::to_string(&sandbox_log().await).unwrap();
    assert!(
        !all.contains(&box_sandbox::tokens::fingerprint(&token)),
        "the IdP token never reaches Box"
    );

    // The Box access token lives 15 s: across two renewals by Keycloak the tools go
    // on working, and no refresh token is ever presented twice.
    let renewals_before = sandbox_log()
        .await
        .iter()
        .filter(|e| e["oauth"]["grant_type"] == "refresh_token")
        .count();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let me = call(&caller, "box_whoami", json!({})).await;
        assert_eq!(ok(&me)["id"], "41000001", "{me}");
        let renewals = sandbox_log()
            .await
            .iter()
            .filter(|e| e["oauth"]["grant_type"] == "refresh_token" && e["status"] == 200)
            .count();
        if renewals >= renewals_before + 2 {
            break;
        }
        assert!(Instant::now() < deadline, "two renewals within a minute");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let presented: Vec<String> = sandbox_log()
        .await
        .iter()
        .filter(|e| e["oauth"]["grant_type"] == "refresh_token")
        .map(|e| {
            e["oauth"]["refresh_token"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let mut unique = presented.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        presented.len(),
        "a refresh token was used twice: {presented:?}"
    );

    // The admin removes the link: within the cache bound (box.linked.cache_ttl, 2 s
    // here) the next call answers "link your Box account" again.
    unlink(&admin, "alice").await;
    eventually(Duration::from_secs(10), "the unlinked answer", || async {
        let rpc = call(&caller, "box_whoami", json!({})).await;
        rpc["result"]["structuredContent"]["error"] == "box_account_not_linked"
    })
    .await;
    assert_no_panic(&server.stop().await);
}

#[tokio::test]
async fn two_linked_users_see_only_their_own_box_and_a_grant_revoked_at_box_asks_to_link_again() {
    let _shared = REALM_KEYS.read().await;
    let _sandbox = SANDBOX_FAULTS.read().await;
    let kc = KeycloakEnv::get();
    let admin = Admin::new(&kc);
    unlink(&admin, "bob").await;
    let server = linked_server(&kc, &[]).await;
    let token = mcp_token(&kc, "bob").await;
    let caller = Caller::new(&server, token.clone()).await;
    let first = call(&caller, "box_whoami", json!({})).await;
    let link_url = tool_error(&first)["link_url"].as_str().unwrap().to_string();
    link_box_account(&kc, &link_url, "bob", "pat@personal.example", "pat-box").await;

    // Bob is Pat: his own journal, not Nora's files.
    let journal = call(
        &caller,
        "box_file_read_text",
        json!({"file_id": "400000004002"}),
    )
    .await;
    assert!(ok(&journal).to_string().contains("Osprey"), "{journal}");
    let other = call(&caller, "box_file_get", json!({"file_id": "400000003001"})).await;
    assert_eq!(tool_error(&other)["error"], "not_found", "{other}");

    // Pat removes the app at Box: the stored token stops working, and box-mcp says
    // to link again rather than failing inside.
    let revoked: Value = reqwest::Client::new()
        .post(format!("{}/_sandbox/grants/revoke", sandbox_url()))
        .json(&json!({"user": "51000001"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(revoked["revoked"].as_u64().unwrap() >= 1, "{revoked}");
    eventually(Duration::from_secs(10), "the link-again answer", || async {
        let rpc = call(&caller, "box_whoami", json!({})).await;
        let code = &rpc["result"]["structuredContent"]["error"];
        code == "box_account_not_linked"
    })
    .await;
    let rpc = call(&caller, "box_whoami", json!({})).await;
    let message = tool_error(&rpc)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("link it again") || message.contains("not linked"),
        "{message}"
    );
    unlink(&admin, "bob").await;
    assert_no_panic(&server.stop().await);
}

#[tokio::test]
async fn keycloak_down_and_boxs_token_endpoint_down_are_clear_errors_and_box_mcp_recovers() {
    let _shared = REALM_KEYS.read().await;
    let kc = KeycloakEnv::get();
    let admin = Admin::new(&kc);
    unlink(&admin, "carol").await;
    // box-mcp reaches Keycloak's token and broker endpoints through an HTTP proxy the
    // test can switch off (Keycloak still sees its own host, so issuers match).
    let proxy = Proxy::start(&kc.base).await;
    let via = format!("http://{}/realms/{REALM}", proxy.addr);
    let (token_url, broker_url) = (
        format!("{via}/protocol/openid-connect/token"),
        format!("{via}/broker/box/token"),
    );
    let server = linked_server(
        &kc,
        &[
            ("BOX_MCP_BOX__LINKED__TOKEN_URL", token_url.as_str()),
            ("BOX_MCP_BOX__LINKED__BROKER_TOKEN_URL", broker_url.as_str()),
            ("BOX_MCP_BOX__TOKEN_MAX_ATTEMPTS", "2"),
            ("BOX_MCP_BOX__TOKEN_RETRY_MAX_ELAPSED", "2s"),
        ],
    )
    .await;
    let token = mcp_token(&kc, "carol").await;
    let caller = Caller::new(&server, token.clone()).await;
    let first = call(&caller, "box_whoami", json!({})).await;
    let link_url = tool_error(&first)["link_url"]
        .as_str()
        .unwrap_or_else(|| panic!("a link answer: {first}"))
        .to_string();
    // Carol's own Box account is dave's login at the sandbox (a managed user can
    // link too).
    link_box_account(&kc, &link_url, "carol", "dave@example.com", "dave-box").await;
    let me = call(&caller, "box_whoami", json!({})).await;
    assert_eq!(ok(&me)["id"], "31000004", "{me}");

    // Keycloak unreachable: once the cached token lapses (2 s), a clear, transient
    // error; back without a restart when Keycloak is.
    proxy.off().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let down = call(&caller, "box_whoami", json!({})).await;
    let error = tool_error(&down);
    assert_eq!(error["error"], "box_unavailable", "{down}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("identity provider is unavailable"),
        "{down}"
    );
    proxy.on().await;
    let back = call(&caller, "box_whoami", json!({})).await;
    assert_eq!(ok(&back)["id"], "31000004", "{back}");

    // Box's token endpoint failing: the downscoping fails with a clear, transient
    // error; back when Box is. (Exclusive: the fault hits every user of the sandbox.)
    {
        let _exclusive = SANDBOX_FAULTS.write().await;
        let faults = format!("{}/_sandbox/faults", sandbox_url());
        let http = reqwest::Client::new();
        let added = http
            .post(&faults)
            .json(&json!({"path": "/oauth2/token", "status": 503}))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), StatusCode::CREATED);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let result = call(&caller, "box_folder_list", json!({"folder_id": "0"})).await;
        http.delete(&faults).send().await.unwrap();
        // The downscoping fails (box_unavailable); or, when Keycloak happened to renew
        // the stored token at that moment, its renewal fails and the answer says Box
        // may be down or the link revoked. Either is a clear answer, and both recover.
        let error = tool_error(&result);
        let code = error["error"].as_str().unwrap();
        assert!(
            code == "box_unavailable"
                || (code == "box_account_not_linked"
                    && error["message"]
                        .as_str()
                        .unwrap()
                        .contains("may be unavailable")),
            "{result}"
        );
    }
    let items = call(&caller, "box_folder_list", json!({"folder_id": "0"})).await;
    assert_eq!(ok(&items)["entries"][0]["name"], "Dave Private", "{items}");
    unlink(&admin, "carol").await;
    assert_no_panic(&server.stop().await);
    proxy.off().await;
}
