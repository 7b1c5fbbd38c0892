//! What every call is checked for: a valid token, its scopes, its restriction,
//! what the acting user may see, and `As-User`.

use box_sandbox::fixture::*;
use reqwest::Method;
use serde_json::json;

use crate::common::{Env, ids, reply};

#[tokio::test]
async fn calls_need_a_valid_bearer_token() {
    let env = Env::start().await;
    let r = reply(env.request(Method::GET, "/users/me", None)).await;
    r.expect_error(401, "unauthorized");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"Service\"")
    );
    let r = env.get("not-a-token", "/folders/0").await;
    r.expect_error(401, "unauthorized");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"invalid_token\""))
    );
    // The token must be in the Authorization header.
    let r = reply(
        env.http
            .get(format!("{}?access_token=x", env.api("/users/me"))),
    )
    .await;
    r.expect_error(401, "unauthorized");
    let r = reply(
        env.request(Method::GET, "/users/me", None)
            .header("authorization", "Basic YWJjOmRlZg=="),
    )
    .await;
    r.expect_error(401, "unauthorized");
}

#[tokio::test]
async fn each_endpoint_needs_its_scope() {
    let env = Env::start().await;
    let parent = env.user_token(ALICE).await;
    let preview = env.downscope(&parent, "item_preview", None).await;
    // users/me: any valid token.
    env.get(&preview, "/users/me").await.expect(200);
    env.get(&preview, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect(200);
    let r = env
        .get(&preview, &format!("/files/{ALICE_NOTES_FILE}/content"))
        .await;
    r.expect_error(403, "insufficient_scope");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.contains("error=\"insufficient_scope\""))
    );
    env.delete(&preview, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect_error(403, "insufficient_scope");
    env.send_json(
        Method::PUT,
        &preview,
        &format!("/files/{ALICE_NOTES_FILE}"),
        &json!({"name": "renamed.txt"}),
    )
    .await
    .expect_error(403, "insufficient_scope");
    env.send_json(
        Method::PUT,
        &preview,
        &format!("/files/{ALICE_NOTES_FILE}?fields=shared_link"),
        &json!({"shared_link": {"access": "open"}}),
    )
    .await
    .expect_error(403, "insufficient_scope");
    let ask = json!({"mode": "single_item_qa", "prompt": "launch date?", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}]});
    let download = env.downscope(&parent, "item_download", None).await;
    env.send_json(Method::POST, &download, "/ai/ask", &ask)
        .await
        .expect_error(403, "insufficient_scope");
    let ai = env
        .downscope(&parent, "ai.readwrite item_download", None)
        .await;
    env.send_json(Method::POST, &ai, "/ai/ask", &ask)
        .await
        .expect(200);
    // Each scope does its own job only.
    let delete = env.downscope(&parent, "item_delete", None).await;
    env.get(&delete, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect_error(403, "insufficient_scope");
    env.delete(&delete, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect(204);
}

#[tokio::test]
async fn users_see_only_what_they_own_or_collaborate_on() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let bob = env.user_token(BOB).await;
    let carol = env.user_token(CAROL).await;
    let dave = env.user_token(DAVE).await;
    let service = env.service_token().await;
    // Dave's readme is his alone: everyone else gets 404, as Box answers.
    env.get(&dave, &format!("/files/{DAVE_README_FILE}"))
        .await
        .expect(200);
    for other in [&alice, &bob, &carol, &service] {
        env.get(other, &format!("/files/{DAVE_README_FILE}"))
            .await
            .expect_error(404, "not_found");
    }
    // Team Projects: alice owns it, bob and carol collaborate, dave does not.
    for who in [&alice, &bob, &carol] {
        env.get(who, &format!("/files/{FALCON_REQUIREMENTS_FILE}"))
            .await
            .expect(200);
    }
    env.get(&dave, &format!("/folders/{TEAM_PROJECTS_FOLDER}/items"))
        .await
        .expect_error(404, "not_found");
    // Carol is a viewer: she may read but not upload.
    let r = env
        .upload(&carol, TEAM_PROJECTS_FOLDER, "carol.txt", b"hello")
        .await;
    r.expect_error(403, "access_denied_insufficient_permissions");
    let r = env
        .upload(&bob, TEAM_PROJECTS_FOLDER, "bob.txt", b"hello")
        .await;
    r.expect(201);
    // Bob's upload belongs to the folder's owner, as in Box.
    assert_eq!(r.body["entries"][0]["owned_by"]["id"], ALICE);
    assert_eq!(r.body["entries"][0]["created_by"]["id"], BOB);
    // Collaborated folders appear in the collaborator's root.
    let root = env.get(&carol, "/folders/0/items").await;
    assert!(ids(root.expect(200)).contains(&TEAM_PROJECTS_FOLDER.to_string()));
    let path = env
        .get(&carol, &format!("/files/{FALCON_REQUIREMENTS_FILE}"))
        .await;
    let entries = path.body["path_collection"]["entries"].as_array().unwrap();
    let names: Vec<_> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["All Files", "Team Projects", "Falcon"]);
    // Unknown ids are 404 too.
    env.get(&alice, "/files/999999")
        .await
        .expect_error(404, "not_found");
    env.get(&alice, &format!("/files/{TEAM_PROJECTS_FOLDER}"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn restricted_tokens_reach_their_item_and_what_lies_below() {
    let env = Env::start().await;
    let bob = env.user_token(BOB).await;
    let resource = format!("https://api.box.com/2.0/folders/{TEAM_PROJECTS_FOLDER}");
    let team = env
        .downscope(
            &bob,
            "item_preview item_download item_upload",
            Some(&resource),
        )
        .await;
    env.get(&team, &format!("/folders/{TEAM_PROJECTS_FOLDER}"))
        .await
        .expect(200);
    env.get(&team, &format!("/files/{FALCON_REQUIREMENTS_FILE}/content"))
        .await
        .expect(200);
    env.upload(&team, FALCON_FOLDER, "inside.txt", b"x")
        .await
        .expect(201);
    // Outside the restriction: 404, even for items bob can see.
    for path in [
        format!("/folders/{BOB_PRIVATE_FOLDER}"),
        "/folders/0".to_string(),
        "/folders/0/items".to_string(),
        "/files/400000000201".to_string(),
    ] {
        env.get(&team, &path).await.expect_error(404, "not_found");
    }
    env.upload(&team, BOB_PRIVATE_FOLDER, "outside.txt", b"x")
        .await
        .expect_error(404, "not_found");
    // Search only finds what lies inside.
    let r = env.get(&team, "/search?query=falcon").await;
    let found = ids(r.expect(200));
    assert!(!found.is_empty());
    assert!(!found.contains(&"400000000201".to_string()), "{found:?}");
    // A file restriction reaches exactly that file.
    let file = format!("https://api.box.com/2.0/files/{FALCON_REQUIREMENTS_FILE}");
    let one = env.downscope(&bob, "item_preview", Some(&file)).await;
    env.get(&one, &format!("/files/{FALCON_REQUIREMENTS_FILE}"))
        .await
        .expect(200);
    env.get(&one, &format!("/folders/{FALCON_FOLDER}"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn as_user_is_for_the_service_account_of_an_allowed_app() {
    let env = Env::start().await;
    let service = env.service_token().await;
    let r = reply(
        env.request(Method::GET, "/users/me", Some(&service))
            .header("As-User", ALICE),
    )
    .await;
    assert_eq!(r.expect(200)["id"], ALICE);
    let r = reply(
        env.request(
            Method::GET,
            &format!("/files/{ALICE_NOTES_FILE}"),
            Some(&service),
        )
        .header("As-User", ALICE),
    )
    .await;
    r.expect(200);
    env.get(&service, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect_error(404, "not_found");
    // Not with a user token.
    let alice = env.user_token(ALICE).await;
    let r = reply(
        env.request(Method::GET, "/users/me", Some(&alice))
            .header("As-User", BOB),
    )
    .await;
    r.expect_error(403, "access_denied_insufficient_permissions");
    // Not for an app without "Perform actions as users".
    let body = env
        .grant(&[
            ("grant_type", "client_credentials"),
            ("client_id", LIMITED_CLIENT_ID),
            ("client_secret", LIMITED_CLIENT_SECRET),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", ENTERPRISE_ID),
        ])
        .await;
    let limited = body["access_token"].as_str().unwrap();
    let r = reply(
        env.request(Method::GET, "/users/me", Some(limited))
            .header("As-User", ALICE),
    )
    .await;
    r.expect_error(403, "access_denied_insufficient_permissions");
    // Unknown users.
    let r = reply(
        env.request(Method::GET, "/users/me", Some(&service))
            .header("As-User", "999"),
    )
    .await;
    r.expect_error(403, "access_denied_insufficient_permissions");
}

#[tokio::test]
async fn finding_users_needs_the_service_account_and_root_readonly() {
    let env = Env::start().await;
    let service = env.service_token().await;
    let r = env.get(&service, "/users?filter_term=bob@").await;
    let body = r.expect(200);
    crate::schemas::check("Users", body);
    assert_eq!(ids(body), [BOB]);
    assert_eq!(body["total_count"], 1);
    let all = env.get(&service, "/users").await;
    // The enterprise's managed users: alice, bob, carol, dave, erin and sam.
    assert_eq!(all.expect(200)["total_count"], 6);
    let alice = env.user_token(ALICE).await;
    env.get(&alice, "/users?filter_term=bob")
        .await
        .expect_error(403, "access_denied_insufficient_permissions");
    let preview = env.downscope(&service, "item_preview", None).await;
    env.get(&preview, "/users?filter_term=bob")
        .await
        .expect_error(403, "insufficient_scope");
    let ro = env.downscope(&service, "root_readonly", None).await;
    env.get(&ro, "/users?filter_term=carol").await.expect(200);
}

#[tokio::test]
async fn the_request_log_shows_which_credential_reached_box() {
    let env = Env::start().await;
    let service = env.service_token().await;
    let resource = format!("https://api.box.com/2.0/files/{ALICE_NOTES_FILE}");
    let alice = env.user_token(ALICE).await;
    let child = env.downscope(&alice, "item_preview", Some(&resource)).await;
    reply(env.http.delete(env.control("/requests"))).await;
    env.get(&child, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect(200);
    reply(
        env.request(Method::GET, "/users/me", Some(&service))
            .header("As-User", BOB),
    )
    .await
    .expect(200);
    env.get("bogus", "/users/me").await;
    let log = env.log().await;
    assert_eq!(log.len(), 3, "{log:?}");
    let first = &log[0];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], format!("/2.0/files/{ALICE_NOTES_FILE}"));
    assert_eq!(first["status"], 200);
    let token = &first["token"];
    assert_eq!(token["valid"], true);
    assert_eq!(token["kind"], "downscoped");
    assert_eq!(token["subject"], ALICE);
    assert_eq!(token["subject_type"], "user");
    assert_eq!(token["scopes"], json!(["item_preview"]));
    assert_eq!(
        token["restricted_to"],
        json!({"type": "file", "id": ALICE_NOTES_FILE})
    );
    assert_eq!(token["fingerprint"].as_str().unwrap().len(), 64);
    assert!(!serde_json::to_string(&log).unwrap().contains(&child));
    let second = &log[1]["token"];
    assert_eq!(second["kind"], "parent");
    assert_eq!(second["subject"], SERVICE_ACCOUNT_ID);
    assert_eq!(second["subject_type"], "enterprise");
    assert_eq!(second["as_user"], BOB);
    assert_eq!(log[1]["as_user"], BOB);
    assert_eq!(log[2]["token"]["valid"], false);
    assert_eq!(log[2]["status"], 401);
    // `since` returns only newer entries; the library handle sees the same log.
    let seq = log[1]["seq"].as_u64().unwrap();
    let r = reply(env.http.get(env.control(&format!("/requests?since={seq}")))).await;
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(env.sb.requests().len(), 3);
}
