//! Box's OAuth 2.0 for users: the sign-in and consent pages, the authorization code
//! and refresh token grants with rotation, revocation, and users outside the app's
//! enterprise who are reachable only this way.

use std::time::Duration;

use box_sandbox::{SandboxConfig, fixture::*};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::common::{Env, Reply, reply};

const CALLBACK: &str = "http://127.0.0.1:9/callback";

async fn env() -> Env {
    Env::with(SandboxConfig {
        redirect_uris: vec![(OAUTH_CLIENT_ID.into(), CALLBACK.into())],
        ..SandboxConfig::default()
    })
    .await
}

/// The hidden inputs of the page's form, in order.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = start + tag[start..].find('"')?;
        Some(
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    };
    html.split("<input")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap_or(rest.len())])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .filter_map(|tag| Some((attr(tag, "name")?, attr(tag, "value")?)))
        .collect()
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bytes).into_owned()
}

fn location(r: &Reply) -> Url {
    assert_eq!(r.status, StatusCode::FOUND, "{}", text(r));
    Url::parse(r.header("location").expect("a Location header")).expect("a URL")
}

fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

impl Env {
    fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let mut url = Url::parse(&self.sb.authorize_url()).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.to_string()
    }

    async fn authorize_post(&self, form: &[(String, String)]) -> Reply {
        reply(self.http.post(self.sb.authorize_url()).form(form)).await
    }

    /// The login page, then the consent page, as a browser would fill them in.
    async fn consent_page(&self, login: &str, password: &str, state: &str) -> Reply {
        let page = reply(self.http.get(self.authorize_url(&[
            ("response_type", "code"),
            ("client_id", OAUTH_CLIENT_ID),
            ("redirect_uri", CALLBACK),
            ("state", state),
            ("scope", "root_readwrite"),
        ])))
        .await;
        assert_eq!(page.status, StatusCode::OK, "{}", text(&page));
        let mut form = hidden_fields(&text(&page));
        form.push(("login".into(), login.into()));
        form.push(("password".into(), password.into()));
        form.push(("action".into(), "login".into()));
        self.authorize_post(&form).await
    }

    /// Signs in, consents, and returns the code of the redirect.
    async fn code_for(&self, login: &str, password: &str) -> String {
        let consent = self.consent_page(login, password, "st-1").await;
        assert_eq!(consent.status, StatusCode::OK, "{}", text(&consent));
        let mut form = hidden_fields(&text(&consent));
        form.push(("action".into(), "grant".into()));
        let back = location(&self.authorize_post(&form).await);
        assert!(back.as_str().starts_with(CALLBACK), "{back}");
        assert_eq!(query(&back, "state").as_deref(), Some("st-1"));
        query(&back, "code").expect("a code")
    }

    async fn redeem(&self, code: &str) -> Reply {
        self.token_call(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
            ("redirect_uri", CALLBACK),
        ])
        .await
    }

    async fn refresh(&self, refresh_token: &str) -> Reply {
        self.token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", OAUTH_CLIENT_ID),
            ("client_secret", OAUTH_CLIENT_SECRET),
        ])
        .await
    }

    /// Nora's token pair, through the whole flow.
    async fn linked_pair(&self, login: &str, password: &str) -> (String, String) {
        let code = self.code_for(login, password).await;
        let r = self.redeem(&code).await;
        let body = r.expect(200);
        crate::schemas::check("AccessToken", body);
        (
            body["access_token"].as_str().unwrap().to_string(),
            body["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

#[tokio::test]
async fn a_user_outside_the_enterprise_signs_in_consents_and_acts_as_herself() {
    let env = env().await;
    let consent = env.consent_page(NORA_LOGIN, NORA_PASSWORD, "s").await;
    let html = text(&consent);
    assert!(html.contains("Nora Northwind"), "{html}");
    assert!(
        html.contains("<li>root_readwrite</li>"),
        "the scopes are listed: {html}"
    );
    assert_eq!(consent.header("x-frame-options"), Some("DENY"));

    let (access, refresh) = env.linked_pair(NORA_LOGIN, NORA_PASSWORD).await;
    assert_eq!(refresh.len(), 64);
    let me = env.get(&access, "/users/me?fields=id,enterprise").await;
    let me = me.expect(200);
    assert_eq!(me["id"], NORA);
    assert_eq!(me["enterprise"]["id"], "2200000");
    // Her own content, and nothing of the app's enterprise.
    let root = env.get(&access, "/folders/0/items").await;
    assert_eq!(crate::common::ids(root.expect(200)), [NORA_PRIVATE_FOLDER]);
    env.get(&access, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect_error(404, "not_found");
    // The token downscopes like any user token.
    let small = env
        .downscope(
            &access,
            "item_preview",
            Some(&env.api(&format!("/files/{NORA_ORDERS_FILE}"))),
        )
        .await;
    env.get(&small, &format!("/files/{NORA_ORDERS_FILE}"))
        .await
        .expect(200);
    env.get(&small, "/folders/0/items")
        .await
        .expect_error(404, "not_found");

    // The log names the user of the grant and never a raw token or code.
    let log = env.log().await;
    let grant = log
        .iter()
        .find(|e| e["oauth"]["grant_type"] == "authorization_code")
        .expect("the code grant is logged");
    assert_eq!(grant["oauth"]["user"], NORA);
    let all = serde_json::to_string(&log).unwrap();
    assert!(!all.contains(&access) && !all.contains(&refresh));
}

#[tokio::test]
async fn a_personal_account_has_no_enterprise_and_sees_only_its_own_content() {
    let env = env().await;
    let (access, _) = env.linked_pair(PAT_LOGIN, PAT_PASSWORD).await;
    let me = env
        .get(&access, "/users/me?fields=id,name,enterprise")
        .await;
    let me = me.expect(200);
    crate::schemas::check("User--Full", me);
    assert_eq!(me["id"], PAT);
    assert!(me.get("enterprise").is_none(), "{me}");
    let journal = env
        .get(&access, &format!("/files/{PAT_JOURNAL_FILE}"))
        .await;
    journal.expect(200);
    env.get(&access, &format!("/folders/{NORA_PRIVATE_FOLDER}"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn users_outside_the_enterprise_are_out_of_reach_of_the_apps_and_as_user() {
    let env = env().await;
    for user in [NORA, PAT] {
        env.token_call(&[
            ("grant_type", "client_credentials"),
            ("client_id", CCG_CLIENT_ID),
            ("client_secret", CCG_CLIENT_SECRET),
            ("box_subject_type", "user"),
            ("box_subject_id", user),
        ])
        .await
        .expect_oauth_error("invalid_grant");
        let service = env.service_token().await;
        let as_user = reply(
            env.request(reqwest::Method::GET, "/users/me", Some(&service))
                .header("As-User", user),
        )
        .await;
        as_user.expect_error(403, "access_denied_insufficient_permissions");
    }
    let service = env.service_token().await;
    let users = env.get(&service, "/users?user_type=all").await;
    let ids = crate::common::ids(users.expect(200));
    assert!(!ids.contains(&NORA.to_string()) && !ids.contains(&PAT.to_string()));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_spent_one_revokes_the_grant() {
    let env = env().await;
    let (access, first) = env.linked_pair(NORA_LOGIN, NORA_PASSWORD).await;
    let second = env.refresh(&first).await;
    let body = second.expect(200).clone();
    crate::schemas::check("AccessToken", &body);
    let (access2, second) = (
        body["access_token"].as_str().unwrap().to_string(),
        body["refresh_token"].as_str().unwrap().to_string(),
    );
    assert_ne!(second, first);
    env.get(&access2, "/users/me").await.expect(200);
    let third = env.refresh(&second).await;
    let third = third.expect(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    // Replaying a spent refresh token ends the grant: every token of it, and what
    // was downscoped from them, stops working.
    let small = env.downscope(&access2, "item_preview", None).await;
    env.refresh(&first)
        .await
        .expect_oauth_error("invalid_grant");
    for token in [&access, &access2, &small] {
        env.get(token, "/users/me")
            .await
            .expect_error(401, "unauthorized");
    }
    env.refresh(&third)
        .await
        .expect_oauth_error("invalid_grant");

    // The log shows each refresh token presented, so a test can tell no refresh
    // token was used twice.
    let presented: Vec<Value> = env
        .log()
        .await
        .iter()
        .filter(|e| e["oauth"]["grant_type"] == "refresh_token")
        .map(|e| json!([e["oauth"]["refresh_token"], e["status"]]))
        .collect();
    assert_eq!(presented.len(), 4);
    assert_eq!(presented[0][0], presented[2][0], "the replay is visible");
    assert_eq!(presented[2][1], 400);
}

#[tokio::test]
async fn codes_work_once_for_their_client_and_redirect_and_lapse() {
    let env = env().await;
    let code = env.code_for(NORA_LOGIN, NORA_PASSWORD).await;
    // Wrong client secret, other client, other redirect URI.
    env.token_call(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", OAUTH_CLIENT_ID),
        ("client_secret", "wrong"),
        ("redirect_uri", CALLBACK),
    ])
    .await
    .expect_oauth_error("invalid_client");
    env.token_call(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", CCG_CLIENT_ID),
        ("client_secret", CCG_CLIENT_SECRET),
    ])
    .await
    .expect_oauth_error("unauthorized_client");
    env.token_call(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", OAUTH_CLIENT_ID),
        ("client_secret", OAUTH_CLIENT_SECRET),
        ("redirect_uri", "http://127.0.0.1:9/other"),
    ])
    .await
    .expect_oauth_error("invalid_grant");
    // The right request works once; a second use revokes what the first gave.
    let first = env.redeem(&code).await;
    let access = first.expect(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    env.redeem(&code).await.expect_oauth_error("invalid_grant");
    env.get(&access, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    env.redeem("not-a-code")
        .await
        .expect_oauth_error("invalid_grant");
    // The CCG app cannot use the user grants.
    env.token_call(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", "x"),
        ("client_id", CCG_CLIENT_ID),
        ("client_secret", CCG_CLIENT_SECRET),
    ])
    .await
    .expect_oauth_error("unauthorized_client");
}

#[tokio::test]
async fn the_pages_refuse_bad_requests_without_redirecting_to_untrusted_places() {
    let env = env().await;
    // Unknown client, unregistered redirect URI: an error page, no redirect.
    for params in [
        vec![
            ("response_type", "code"),
            ("client_id", "nope"),
            ("redirect_uri", CALLBACK),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", CCG_CLIENT_ID),
            ("redirect_uri", CALLBACK),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", OAUTH_CLIENT_ID),
            ("redirect_uri", "http://evil.example/cb"),
        ],
        vec![
            ("response_type", "code"),
            ("client_id", OAUTH_CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:9/callback/extra"),
        ],
    ] {
        let r = reply(env.http.get(env.authorize_url(&params))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{params:?}");
        assert!(r.header("location").is_none());
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
    }
    // A good client and redirect URI with a bad request: back to the client.
    let r = reply(env.http.get(env.authorize_url(&[
        ("response_type", "token"),
        ("client_id", OAUTH_CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("state", "x"),
    ])))
    .await;
    let back = location(&r);
    assert_eq!(
        query(&back, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query(&back, "state").as_deref(), Some("x"));
    let r = reply(env.http.get(env.authorize_url(&[
        ("response_type", "code"),
        ("client_id", OAUTH_CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("scope", "root_readwrite manage_enterprise"),
    ])))
    .await;
    assert_eq!(
        query(&location(&r), "error").as_deref(),
        Some("invalid_scope")
    );

    // A wrong password shows the form again; the service account cannot sign in.
    for (login, password) in [
        (NORA_LOGIN, "wrong"),
        ("AutomationUser_1100000_sandbox@boxdevedition.com", ""),
    ] {
        let r = env.consent_page(login, password, "s").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(text(&r).contains("Invalid login credentials"));
    }
    // A forged or reused ticket is refused.
    let consent = env.consent_page(NORA_LOGIN, NORA_PASSWORD, "s").await;
    let mut form = hidden_fields(&text(&consent));
    form.push(("action".into(), "grant".into()));
    location(&env.authorize_post(&form).await);
    let again = env.authorize_post(&form).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let forged = env
        .authorize_post(&[
            ("ticket".into(), "forged".into()),
            ("action".into(), "grant".into()),
        ])
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn denying_consent_redirects_with_access_denied() {
    let env = env().await;
    let consent = env.consent_page(PAT_LOGIN, PAT_PASSWORD, "st-9").await;
    let mut form = hidden_fields(&text(&consent));
    form.push(("action".into(), "deny".into()));
    let back = location(&env.authorize_post(&form).await);
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("st-9"));
    assert!(query(&back, "code").is_none());
}

#[tokio::test]
async fn revoking_at_box_ends_the_grant_and_tokens_lapse_on_their_lifetimes() {
    let env = Env::with(SandboxConfig {
        redirect_uris: vec![(OAUTH_CLIENT_ID.into(), CALLBACK.into())],
        token_ttl: Duration::from_secs(1),
        refresh_token_ttl: Duration::from_secs(3),
        ..SandboxConfig::default()
    })
    .await;
    let (access, refresh) = env.linked_pair(NORA_LOGIN, NORA_PASSWORD).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.get(&access, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    // An expired access token is renewed by its refresh token.
    let renewed = env.refresh(&refresh).await;
    let body = renewed.expect(200).clone();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let access = body["access_token"].as_str().unwrap().to_string();
    env.get(&access, "/users/me").await.expect(200);

    // The user removes the app at Box: the grant ends.
    let r = reply(
        env.http
            .post(env.control("/grants/revoke"))
            .json(&json!({"user": NORA})),
    )
    .await;
    assert_eq!(r.expect(200)["revoked"], 1);
    env.get(&access, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    env.refresh(&refresh)
        .await
        .expect_oauth_error("invalid_grant");

    // A refresh token lapses too.
    let (_, refresh) = env.linked_pair(NORA_LOGIN, NORA_PASSWORD).await;
    assert!(env.sb.expire_refresh_tokens() >= 1);
    env.refresh(&refresh)
        .await
        .expect_oauth_error("invalid_grant");
}
