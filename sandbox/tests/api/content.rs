//! Reading: users/me, folders, items and their pagination, files, content, and
//! extracted text through representations.

use box_sandbox::{DownloadMode, fixture::*};
use reqwest::Method;
use serde_json::Value;

use crate::{
    common::{Env, ids, names, reply},
    schemas::check,
};

#[tokio::test]
async fn users_me_is_a_full_user() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let me = env.get(&alice, "/users/me").await;
    let body = me.expect(200);
    check("User--Full", body);
    assert_eq!(body["type"], "user");
    assert_eq!(body["name"], "Alice Admin");
    assert!(body.get("enterprise").is_none(), "not a default field");
    let me = env.get(&alice, "/users/me?fields=enterprise,role").await;
    let body = me.expect(200);
    check("User--Full", body);
    assert_eq!(body["enterprise"]["id"], ENTERPRISE_ID);
    assert!(body.get("login").is_none(), "only requested fields");
}

#[tokio::test]
async fn folders_and_their_items() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let root = env.get(&alice, "/folders/0").await;
    let body = root.expect(200);
    check("Folder--Full", body);
    assert_eq!(body["id"], "0");
    assert_eq!(body["name"], "All Files");
    assert_eq!(
        names(&body["item_collection"]),
        ["Alice Private", "Team Projects"]
    );
    let folder = env
        .get(&alice, &format!("/folders/{ALICE_PRIVATE_FOLDER}"))
        .await;
    let body = folder.expect(200);
    check("Folder--Full", body);
    assert_eq!(body["item_collection"]["total_count"], 4);
    assert_eq!(body["parent"]["id"], "0");
    assert_eq!(body["owned_by"]["id"], ALICE);
    assert!(body["size"].as_u64().unwrap() > 0);

    let items = env
        .get(&alice, &format!("/folders/{TEAM_PROJECTS_FOLDER}/items"))
        .await;
    let body = items.expect(200);
    check("Items", body);
    assert_eq!(names(body), ["Falcon", "project-falcon.md", "status.csv"]);
    assert_eq!(body["total_count"], 3);
    let first = &body["entries"][1];
    for field in [
        "type",
        "id",
        "etag",
        "sequence_id",
        "name",
        "sha1",
        "file_version",
    ] {
        assert!(first.get(field).is_some(), "mini field {field}");
    }
    assert!(first.get("size").is_none(), "size is not a mini field");
    // Fields, sort, direction.
    let items = env
        .get(
            &alice,
            &format!("/folders/{ALICE_PRIVATE_FOLDER}/items?fields=name,size,modified_at&sort=size&direction=DESC"),
        )
        .await;
    let body = items.expect(200);
    check("Items", body);
    let sizes: Vec<u64> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["size"].as_u64().unwrap())
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    assert_eq!(body["order"][0]["by"], "size");
    env.get(
        &alice,
        &format!("/folders/{ALICE_PRIVATE_FOLDER}/items?sort=bogus"),
    )
    .await
    .expect_error(400, "bad_request");
}

#[tokio::test]
async fn items_paginate_by_offset_and_by_marker() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let path = format!("/folders/{ALICE_PRIVATE_FOLDER}/items");
    let mut seen = Vec::new();
    for offset in [0, 3] {
        let r = env
            .get(&alice, &format!("{path}?limit=3&offset={offset}"))
            .await;
        let body = r.expect(200);
        check("Items", body);
        assert_eq!(body["total_count"], 4);
        assert_eq!(body["offset"], offset);
        assert_eq!(body["limit"], 3);
        seen.extend(ids(body));
    }
    assert_eq!(seen.len(), 4);
    let mut marker_seen = Vec::new();
    let mut url = format!("{path}?usemarker=true&limit=3");
    loop {
        let r = env.get(&alice, &url).await;
        let body = r.expect(200).clone();
        check("Items", &body);
        assert!(body.get("total_count").is_none());
        marker_seen.extend(ids(&body));
        match body["next_marker"].as_str() {
            Some(m) => url = format!("{path}?usemarker=true&limit=3&marker={m}"),
            None => break,
        }
    }
    assert_eq!(marker_seen, seen);
    env.get(&alice, &format!("{path}?marker=garbage"))
        .await
        .expect_error(400, "bad_request");
    env.get(&alice, &format!("{path}?limit=ten"))
        .await
        .expect_error(400, "bad_request");
}

#[tokio::test]
async fn files_content_and_extracted_text() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let file = env.get(&alice, &format!("/files/{ALICE_NOTES_FILE}")).await;
    let body = file.expect(200);
    check("File--Full", body);
    assert_eq!(body["name"], "meeting-notes.txt");
    assert_eq!(body["parent"]["id"], ALICE_PRIVATE_FOLDER);
    assert_eq!(body["path_collection"]["total_count"], 2);
    let sha1 = body["sha1"].as_str().unwrap().to_string();
    assert_eq!(sha1.len(), 40);

    let content = env
        .get(&alice, &format!("/files/{ALICE_NOTES_FILE}/content"))
        .await;
    content.expect(200);
    let text = String::from_utf8(content.bytes.clone()).unwrap();
    assert!(text.starts_with("Project Falcon kickoff meeting"));

    // Extracted text: x-rep-hints + fields=representations, then the url_template.
    let r = reply(
        env.request(
            Method::GET,
            &format!("/files/{ALICE_NOTES_FILE}?fields=representations"),
            Some(&alice),
        )
        .header("x-rep-hints", "[extracted_text]"),
    )
    .await;
    let body = r.expect(200);
    check("File--Full", body);
    let entry = &body["representations"]["entries"][0];
    assert_eq!(entry["representation"], "extracted_text");
    assert_eq!(entry["status"]["state"], "success");
    let template = entry["content"]["url_template"].as_str().unwrap();
    assert!(template.ends_with("{+asset_path}"));
    let url = template.replace("{+asset_path}", "");
    let r = reply(env.http.get(&url).bearer_auth(&alice)).await;
    r.expect(200);
    assert_eq!(String::from_utf8(r.bytes.clone()).unwrap(), text);
    // Extracted text is a download: it needs item_download.
    let preview = env.downscope(&alice, "item_preview", None).await;
    let r = reply(env.http.get(&url).bearer_auth(&preview)).await;
    r.expect_error(403, "insufficient_scope");
    // Other hints get no extracted text.
    let r = reply(
        env.request(
            Method::GET,
            &format!("/files/{ALICE_NOTES_FILE}?fields=representations"),
            Some(&alice),
        )
        .header("x-rep-hints", "[jpg?dimensions=32x32]"),
    )
    .await;
    assert_eq!(
        r.expect(200)["representations"]["entries"],
        Value::Array(vec![])
    );
}

#[tokio::test]
async fn downloads_can_redirect_like_box() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    env.sb.set_download_mode(DownloadMode::Redirect);
    let r = env
        .get(&alice, &format!("/files/{ALICE_NOTES_FILE}/content"))
        .await;
    assert_eq!(r.status.as_u16(), 302);
    let location = r.header("location").unwrap().to_string();
    // The link is pre-authorised, like dl.boxcloud.com.
    let r = reply(env.http.get(&location)).await;
    r.expect(200);
    assert!(String::from_utf8_lossy(&r.bytes).contains("Falcon"));
    let r = reply(
        env.http
            .put(env.control("/downloads"))
            .json(&serde_json::json!({"mode": "direct"})),
    )
    .await;
    assert_eq!(r.body["mode"], "direct");
    env.get(&alice, &format!("/files/{ALICE_NOTES_FILE}/content"))
        .await
        .expect(200);
}
