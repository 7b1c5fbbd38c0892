//! Writing: folders, uploads and versions, rename/move, copy, delete, and bad input.

use box_sandbox::fixture::*;
use reqwest::{
    Method,
    multipart::{Form, Part},
};
use serde_json::json;

use crate::{
    common::{Env, names, reply},
    schemas::check,
};

#[tokio::test]
async fn create_folders_and_clash_on_names() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let r = env
        .send_json(
            Method::POST,
            &alice,
            "/folders",
            &json!({"name": "Reports", "parent": {"id": "0"}}),
        )
        .await;
    let body = r.expect(201);
    check("Folder--Full", body);
    assert_eq!(body["name"], "Reports");
    assert_eq!(body["parent"]["id"], "0");
    let r = env
        .send_json(
            Method::POST,
            &alice,
            "/folders",
            &json!({"name": "reports", "parent": {"id": "0"}}),
        )
        .await;
    // POST /folders answers a plain ClientError (ConflictError describes file conflicts).
    r.expect_error(409, "item_name_in_use");
    let conflicts = r.body["context_info"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts[0]["name"], "Reports");
    assert_eq!(conflicts[0]["type"], "folder");
    for bad in [
        json!({"name": "a/b", "parent": {"id": "0"}}),
        json!({"name": " x", "parent": {"id": "0"}}),
    ] {
        env.send_json(Method::POST, &alice, "/folders", &bad)
            .await
            .expect_error(400, "item_name_invalid");
    }
    env.send_json(Method::POST, &alice, "/folders", &json!({"name": "x"}))
        .await
        .expect_error(400, "bad_request");
    env.send_json(
        Method::POST,
        &alice,
        "/folders",
        &json!({"name": "x", "parent": {"id": DAVE_PRIVATE_FOLDER}}),
    )
    .await
    .expect_error(404, "not_found");
    // Malformed JSON.
    let r = reply(
        env.request(Method::POST, "/folders", Some(&alice))
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    r.expect_error(400, "bad_request");
    let r = reply(
        env.request(Method::POST, "/folders", Some(&alice))
            .header("content-type", "application/json")
            .body("[1, 2]"),
    )
    .await;
    r.expect_error(400, "bad_request");
}

#[tokio::test]
async fn uploads_put_attributes_before_the_file() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let r = env
        .upload(&alice, ALICE_PRIVATE_FOLDER, "new.md", b"# New\nHello.\n")
        .await;
    let body = r.expect(201);
    check("Files", body);
    assert_eq!(body["total_count"], 1);
    let file = &body["entries"][0];
    assert_eq!(file["name"], "new.md");
    assert_eq!(file["size"], 13);
    assert_eq!(file["parent"]["id"], ALICE_PRIVATE_FOLDER);
    // The file part first: Box's 400.
    let form = Form::new()
        .part("file", Part::bytes(b"x".to_vec()).file_name("late.txt"))
        .text(
            "attributes",
            json!({"name": "late.txt", "parent": {"id": ALICE_PRIVATE_FOLDER}}).to_string(),
        );
    let r = reply(
        env.http
            .post(env.upload_url("/files/content"))
            .bearer_auth(&alice)
            .multipart(form),
    )
    .await;
    r.expect_error(400, "metadata_after_file_contents");
    // Clashes.
    let r = env
        .upload(&alice, ALICE_PRIVATE_FOLDER, "NEW.md", b"again")
        .await;
    r.expect_error(409, "item_name_in_use");
    check("ConflictError", &r.body);
    assert_eq!(r.body["context_info"]["conflicts"][0]["id"], file["id"]);
    // Not multipart, no file part, bad attributes.
    let r = reply(
        env.http
            .post(env.upload_url("/files/content"))
            .bearer_auth(&alice)
            .body("plain"),
    )
    .await;
    r.expect_error(400, "bad_request");
    let form = Form::new().text("attributes", "{}");
    let r = reply(
        env.http
            .post(env.upload_url("/files/content"))
            .bearer_auth(&alice)
            .multipart(form),
    )
    .await;
    r.expect_error(400, "bad_request");
    let form = Form::new()
        .text("attributes", "not json")
        .part("file", Part::bytes(b"x".to_vec()).file_name("a.txt"));
    let r = reply(
        env.http
            .post(env.upload_url("/files/content"))
            .bearer_auth(&alice)
            .multipart(form),
    )
    .await;
    r.expect_error(400, "bad_request");
    // The upload base only serves uploads.
    let r = reply(
        env.http
            .get(env.upload_url(&format!("/files/{ALICE_NOTES_FILE}")))
            .bearer_auth(&alice),
    )
    .await;
    r.expect_error(404, "not_found");
}

#[tokio::test]
async fn new_versions_honour_if_match() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let before = env.get(&alice, &format!("/files/{ALICE_NOTES_FILE}")).await;
    let etag = before.body["etag"].as_str().unwrap().to_string();
    let version = |content: &'static [u8], if_match: &str| {
        let form = Form::new().part("file", Part::bytes(content.to_vec()).file_name("x"));
        env.http
            .post(env.upload_url(&format!("/files/{ALICE_NOTES_FILE}/content")))
            .bearer_auth(&alice)
            .header("if-match", if_match)
            .multipart(form)
    };
    let r = reply(version(b"stale", "99")).await;
    r.expect_error(412, "precondition_failed");
    let r = reply(version(b"Version two of the notes.\n", &etag)).await;
    let body = r.expect(201);
    check("Files", body);
    let file = &body["entries"][0];
    assert_ne!(file["etag"], etag.as_str());
    assert_ne!(
        file["file_version"]["id"],
        before.body["file_version"]["id"]
    );
    assert_ne!(file["sha1"], before.body["sha1"]);
    let content = env
        .get(&alice, &format!("/files/{ALICE_NOTES_FILE}/content"))
        .await;
    assert_eq!(content.bytes, b"Version two of the notes.\n");
    let after = env
        .get(
            &alice,
            &format!("/files/{ALICE_NOTES_FILE}?fields=version_number"),
        )
        .await;
    assert_eq!(after.body["version_number"], "2");
}

#[tokio::test]
async fn rename_move_describe_copy_and_delete() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let path = format!("/files/{ALICE_NOTES_FILE}");
    let r = env
        .send_json(
            Method::PUT,
            &alice,
            &path,
            &json!({"name": "notes.txt", "description": "Kickoff", "parent": {"id": TEAM_PROJECTS_FOLDER}}),
        )
        .await;
    let body = r.expect(200);
    check("File--Full", body);
    assert_eq!(body["name"], "notes.txt");
    assert_eq!(body["description"], "Kickoff");
    assert_eq!(body["parent"]["id"], TEAM_PROJECTS_FOLDER);
    // Stale If-Match.
    let r = reply(
        env.request(Method::PUT, &path, Some(&alice))
            .header("if-match", "0")
            .json(&json!({"name": "again.txt"})),
    )
    .await;
    r.expect_error(412, "precondition_failed");
    // Moving a folder into itself.
    env.send_json(
        Method::PUT,
        &alice,
        &format!("/folders/{TEAM_PROJECTS_FOLDER}"),
        &json!({"parent": {"id": FALCON_FOLDER}}),
    )
    .await
    .expect_error(400, "bad_request");
    // Copy a file and a folder.
    let r = env
        .send_json(
            Method::POST,
            &alice,
            &format!("{path}/copy"),
            &json!({"parent": {"id": ALICE_PRIVATE_FOLDER}}),
        )
        .await;
    let copy = r.expect(201).clone();
    check("File--Full", &copy);
    assert_eq!(copy["name"], "notes.txt");
    assert_ne!(copy["id"], ALICE_NOTES_FILE);
    env.send_json(
        Method::POST,
        &alice,
        &format!("{path}/copy"),
        &json!({"parent": {"id": TEAM_PROJECTS_FOLDER}}),
    )
    .await
    .expect_error(409, "item_name_in_use");
    let r = env
        .send_json(
            Method::POST,
            &alice,
            &format!("/folders/{FALCON_FOLDER}/copy"),
            &json!({"parent": {"id": "0"}, "name": "Falcon copy"}),
        )
        .await;
    let folder_copy = r.expect(201).clone();
    check("Folder--Full", &folder_copy);
    assert_eq!(folder_copy["item_collection"]["total_count"], 2);
    // Delete: files, empty folders, and non-empty folders only recursively.
    env.delete(&alice, &format!("/files/{}", copy["id"].as_str().unwrap()))
        .await
        .expect(204);
    let fc = folder_copy["id"].as_str().unwrap();
    env.delete(&alice, &format!("/folders/{fc}"))
        .await
        .expect_error(400, "folder_not_empty");
    env.delete(&alice, &format!("/folders/{fc}?recursive=true"))
        .await
        .expect(204);
    env.get(&alice, &format!("/folders/{fc}"))
        .await
        .expect_error(404, "not_found");
    let root = env.get(&alice, "/folders/0/items").await;
    assert_eq!(names(&root.body), ["Alice Private", "Team Projects"]);
    // Carol (viewer) may not rename or delete.
    let carol = env.user_token(CAROL).await;
    env.send_json(
        Method::PUT,
        &carol,
        &format!("/files/{FALCON_REQUIREMENTS_FILE}"),
        &json!({"name": "mine.txt"}),
    )
    .await
    .expect_error(403, "access_denied_insufficient_permissions");
    env.delete(&carol, &format!("/files/{FALCON_REQUIREMENTS_FILE}"))
        .await
        .expect_error(403, "access_denied_insufficient_permissions");
    env.delete(&alice, "/folders/0")
        .await
        .expect_error(403, "forbidden");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_box() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    env.get(&alice, "/nope")
        .await
        .expect_error(404, "not_found");
    env.send_json(Method::PATCH, &alice, "/users/me", &json!({}))
        .await
        .expect_error(405, "method_not_allowed");
    let r = reply(env.http.get(format!("{}/elsewhere", env.sb.base_url()))).await;
    r.expect_error(404, "not_found");
    // The framework's own rejections are answered in Box's shape too.
    env.get(&alice, "/files/%FF%FE")
        .await
        .expect_error(400, "bad_request");
    let big = vec![b'x'; 3 * 1024 * 1024];
    let r = reply(
        env.request(Method::POST, "/folders", Some(&alice))
            .header("content-type", "application/json")
            .body(big),
    )
    .await;
    r.expect_error(413, "bad_request");
}
