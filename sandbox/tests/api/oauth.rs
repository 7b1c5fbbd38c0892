//! The token endpoint: client credentials, token exchange (downscoping), revoke.

use box_sandbox::fixture::*;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Env, reply};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

#[tokio::test]
async fn client_credentials_for_the_enterprise_and_for_users() {
    let env = Env::start().await;
    let body = env
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", CCG_CLIENT_ID),
            ("client_secret", CCG_CLIENT_SECRET),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", ENTERPRISE_ID),
        ])
        .await;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["restricted_to"], json!([]));
    assert!(
        body.get("refresh_token").is_none(),
        "CCG has no refresh token"
    );
    let expires_in = body["expires_in"].as_u64().unwrap();
    assert!((3590..=3600).contains(&expires_in), "{expires_in}");
    let token = body["access_token"].as_str().unwrap();
    assert!(token.len() >= 32 && token.chars().all(|c| c.is_ascii_alphanumeric()));
    let me = env.get(token, "/users/me").await;
    assert_eq!(me.expect(200)["id"], SERVICE_ACCOUNT_ID);

    let alice = env.user_token(ALICE).await;
    let me = env.get(&alice, "/users/me").await;
    assert_eq!(me.expect(200)["login"], "alice@example.com");
}

#[tokio::test]
async fn client_credentials_are_checked() {
    let env = Env::start().await;
    let base = |secret: &'static str, st: &'static str, sid: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", CCG_CLIENT_ID),
            ("client_secret", secret),
            ("box_subject_type", st),
            ("box_subject_id", sid),
        ]
    };
    env.token_call(&base("wrong", "enterprise", ENTERPRISE_ID))
        .await
        .expect_oauth_error("invalid_client");
    env.token_call(&base(CCG_CLIENT_SECRET, "enterprise", "999"))
        .await
        .expect_oauth_error("invalid_grant");
    env.token_call(&base(CCG_CLIENT_SECRET, "user", "999"))
        .await
        .expect_oauth_error("invalid_grant");
    env.token_call(&base(CCG_CLIENT_SECRET, "user", SERVICE_ACCOUNT_ID))
        .await
        .expect_oauth_error("invalid_grant");
    env.token_call(&base(CCG_CLIENT_SECRET, "group", "1"))
        .await
        .expect_oauth_error("invalid_request");
    env.token_call(&[
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
        ("client_secret", "x"),
    ])
    .await
    .expect_oauth_error("invalid_client");
    // User subjects only when the app may generate user tokens.
    env.token_call(&[
        ("grant_type", "client_credentials"),
        ("client_id", LIMITED_CLIENT_ID),
        ("client_secret", LIMITED_CLIENT_SECRET),
        ("box_subject_type", "user"),
        ("box_subject_id", ALICE),
    ])
    .await
    .expect_oauth_error("invalid_grant");
    // The JWT app cannot use client credentials.
    env.token_call(&[
        ("grant_type", "client_credentials"),
        ("client_id", JWT_CLIENT_ID),
        ("client_secret", JWT_CLIENT_SECRET),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", ENTERPRISE_ID),
    ])
    .await
    .expect_oauth_error("unauthorized_client");
    env.token_call(&[("grant_type", "password")])
        .await
        .expect_oauth_error("unsupported_grant_type");
    env.token_call(&[("client_id", CCG_CLIENT_ID)])
        .await
        .expect_oauth_error("invalid_request");
    // Not a form.
    let r = reply(
        env.http
            .post(env.sb.token_url())
            .json(&json!({"grant_type": "client_credentials"})),
    )
    .await;
    r.expect_oauth_error("invalid_request");
}

#[tokio::test]
async fn exchange_downscopes_to_exactly_the_requested_scopes() {
    let env = Env::start().await;
    let parent = env.user_token(ALICE).await;
    let r = env
        .exchange(&parent, "item_preview item_download", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = &r.body;
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "bearer");
    assert!(body.get("refresh_token").is_none());
    assert!(body["expires_in"].as_u64().unwrap() <= 3600);
    let child = body["access_token"].as_str().unwrap();
    // It reads, but may not upload or use AI.
    env.get(child, "/folders/0/items").await.expect(200);
    env.send_json(
        reqwest::Method::POST,
        child,
        "/folders",
        &json!({"name": "x", "parent": {"id": "0"}}),
    )
    .await
    .expect_error(403, "insufficient_scope");
    // The parent must hold every requested scope (implication counts).
    let ro = env.downscope(&parent, "root_readonly", None).await;
    assert_eq!(
        env.exchange(&ro, "item_download", None).await.status,
        StatusCode::OK
    );
    env.exchange(&ro, "item_upload", None)
        .await
        .expect_oauth_error("invalid_scope");
    env.exchange(&parent, "item_preview not_a_scope", None)
        .await
        .expect_oauth_error("invalid_scope");
    // The new token carries exactly what was asked: no implication upwards.
    let preview = env.downscope(&parent, "item_preview", None).await;
    env.exchange(&preview, "item_download", None)
        .await
        .expect_oauth_error("invalid_scope");
    env.exchange("no-such-token", "item_preview", None)
        .await
        .expect_oauth_error("invalid_grant");
    env.exchange(&parent, "", None)
        .await
        .expect_oauth_error("invalid_request");
    env.token_call(&[
        ("grant_type", EXCHANGE),
        ("subject_token", &parent),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:id_token",
        ),
        ("scope", "item_preview"),
    ])
    .await
    .expect_oauth_error("invalid_request");
}

#[tokio::test]
async fn exchange_restricts_to_one_item() {
    let env = Env::start().await;
    let parent = env.user_token(BOB).await;
    let resource = format!("https://api.box.com/2.0/folders/{TEAM_PROJECTS_FOLDER}");
    let r = env
        .exchange(&parent, "item_preview ai.readwrite", Some(&resource))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let restricted = r.body["restricted_to"].as_array().unwrap();
    assert_eq!(restricted.len(), 1, "only Box's resource scopes are listed");
    assert_eq!(restricted[0]["scope"], "item_preview");
    assert_eq!(restricted[0]["object"]["type"], "folder");
    assert_eq!(restricted[0]["object"]["id"], TEAM_PROJECTS_FOLDER);
    assert_eq!(restricted[0]["object"]["name"], "Team Projects");
    // The sandbox's own URLs work as resources too.
    let own = format!("{}/files/{FALCON_REQUIREMENTS_FILE}", env.sb.api_base_url());
    env.downscope(&parent, "item_preview", Some(&own)).await;
    // Items the subject cannot see, and non-item URLs, are refused.
    let hidden = format!("https://api.box.com/2.0/files/{ALICE_NOTES_FILE}");
    env.exchange(&parent, "item_preview", Some(&hidden))
        .await
        .expect_oauth_error("invalid_request");
    env.exchange(
        &parent,
        "item_preview",
        Some("https://api.box.com/2.0/users/1"),
    )
    .await
    .expect_oauth_error("invalid_request");
    // A restricted token can only be narrowed further.
    let team = env
        .downscope(&parent, "item_preview", Some(&resource))
        .await;
    let falcon = format!("https://api.box.com/2.0/folders/{FALCON_FOLDER}");
    env.downscope(&team, "item_preview", Some(&falcon)).await;
    let bob_private = format!("https://api.box.com/2.0/folders/{BOB_PRIVATE_FOLDER}");
    env.exchange(&team, "item_preview", Some(&bob_private))
        .await
        .expect_oauth_error("invalid_request");
}

#[tokio::test]
async fn downscoped_tokens_expire_and_die_with_their_parent() {
    let env = Env::start().await;
    let parent = env.user_token(ALICE).await;
    let child = env.downscope(&parent, "item_preview", None).await;
    env.get(&child, "/users/me").await.expect(200);
    // Revoking needs the client's credentials.
    let r = reply(
        env.http
            .post(env.sb.revoke_url())
            .form(&[("token", parent.as_str())]),
    )
    .await;
    r.expect_oauth_error("invalid_client");
    let r = reply(env.http.post(env.sb.revoke_url()).form(&[
        ("client_id", CCG_CLIENT_ID),
        ("client_secret", CCG_CLIENT_SECRET),
        ("token", parent.as_str()),
    ]))
    .await;
    assert_eq!(r.status, StatusCode::OK);
    env.get(&parent, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    env.get(&child, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    env.exchange(&parent, "item_preview", None)
        .await
        .expect_oauth_error("invalid_grant");

    // Expiry (forced through the control endpoint).
    let parent = env.user_token(ALICE).await;
    let child = env.downscope(&parent, "item_preview", None).await;
    let r = reply(env.http.post(env.control("/tokens/expire"))).await;
    assert!(r.body["expired"].as_u64().unwrap() >= 2, "{}", r.body);
    env.get(&child, "/users/me")
        .await
        .expect_error(401, "unauthorized");
}

#[tokio::test]
async fn token_calls_are_logged_without_secrets() {
    let env = Env::start().await;
    let parent = env.user_token(ALICE).await;
    let resource = format!("https://api.box.com/2.0/files/{ALICE_NOTES_FILE}");
    let child = env
        .downscope(&parent, "item_preview item_download", Some(&resource))
        .await;
    env.token_call(&[
        ("grant_type", "client_credentials"),
        ("client_id", CCG_CLIENT_ID),
        ("client_secret", "wrong-secret"),
        ("box_subject_type", "enterprise"),
        ("box_subject_id", ENTERPRISE_ID),
    ])
    .await;
    let log = env.log().await;
    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        CCG_CLIENT_SECRET,
        "wrong-secret",
        parent.as_str(),
        child.as_str(),
    ] {
        assert!(!text.contains(secret), "the log leaks {secret}");
    }
    let oauth: Vec<_> = log
        .iter()
        .filter(|e| e["path"] == "/oauth2/token")
        .collect();
    assert_eq!(oauth.len(), 3);
    assert_eq!(oauth[0]["oauth"]["grant_type"], "client_credentials");
    assert_eq!(oauth[0]["oauth"]["box_subject_type"], "user");
    assert_eq!(oauth[0]["oauth"]["box_subject_id"], ALICE);
    assert_eq!(oauth[0]["oauth"]["issued_kind"], "parent");
    let parent_fp = oauth[0]["oauth"]["issued_token"].as_str().unwrap();
    assert_eq!(parent_fp.len(), 64);
    assert_eq!(oauth[1]["oauth"]["grant_type"], EXCHANGE);
    assert_eq!(
        oauth[1]["oauth"]["scope"],
        json!(["item_preview", "item_download"])
    );
    assert_eq!(oauth[1]["oauth"]["resource"], resource);
    assert_eq!(oauth[1]["oauth"]["subject_token"], parent_fp);
    assert_eq!(oauth[1]["oauth"]["issued_kind"], "downscoped");
    assert_eq!(
        oauth[1]["oauth"]["issued_restricted_to"],
        json!({"type": "file", "id": ALICE_NOTES_FILE})
    );
    assert_eq!(oauth[2]["status"], 400);
    assert_eq!(oauth[2]["oauth"]["error"], "invalid_client");
}
