//! Search, metadata, collaborations, shared links and the AI stand-in.

use box_sandbox::fixture::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    common::{Env, ids, reply},
    schemas::check,
};

#[tokio::test]
async fn search_finds_visible_items_by_name_and_content() {
    let env = Env::start().await;
    let bob = env.user_token(BOB).await;
    let r = env.get(&bob, "/search?query=falcon").await;
    let body = r.expect(200);
    check("SearchResultsResponse", body);
    check("SearchResults", body);
    assert_eq!(body["type"], "search_results_items");
    let found = ids(body);
    // Bob's own vendor list and design, and the Team Projects files.
    for id in [
        "400000000201",
        "400000000202",
        FALCON_OVERVIEW_FILE,
        FALCON_REQUIREMENTS_FILE,
    ] {
        assert!(
            found.contains(&id.to_string()),
            "{id} missing from {found:?}"
        );
    }
    // Alice's private notes mention Falcon but bob cannot see them.
    assert!(!found.contains(&ALICE_NOTES_FILE.to_string()));
    // Filters.
    let r = env.get(&bob, "/search?query=falcon&type=folder").await;
    assert_eq!(ids(r.expect(200)), [FALCON_FOLDER]);
    let r = env
        .get(&bob, "/search?query=falcon&file_extensions=csv,txt")
        .await;
    for e in r.expect(200)["entries"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        assert!(name.ends_with(".csv") || name.ends_with(".txt"), "{name}");
    }
    let r = env
        .get(
            &bob,
            &format!("/search?query=falcon&ancestor_folder_ids={FALCON_FOLDER}"),
        )
        .await;
    assert_eq!(
        ids(r.expect(200)),
        [FALCON_REQUIREMENTS_FILE, "400000001004"]
    );
    let r = env
        .get(
            &bob,
            "/search?query=\"payment provider\"&content_types=file_content",
        )
        .await;
    assert!(ids(r.expect(200)).contains(&"400000000202".to_string()));
    let r = env.get(&bob, "/search?query=falcon&limit=1&offset=1").await;
    let body = r.expect(200);
    assert_eq!(body["entries"].as_array().unwrap().len(), 1);
    assert_eq!(body["offset"], 1);
    assert!(body["total_count"].as_u64().unwrap() > 1);
    env.get(&bob, "/search?query=falcon&limit=201")
        .await
        .expect_error(400, "bad_request");
    env.get(&bob, "/search")
        .await
        .expect_error(400, "bad_request");
    // Dave's secret stays his.
    let r = env.get(&bob, "/search?query=kestrel").await;
    assert_eq!(r.expect(200)["total_count"], 0);
    let dave = env.user_token(DAVE).await;
    let r = env.get(&dave, "/search?query=kestrel").await;
    assert_eq!(ids(r.expect(200)), [DAVE_README_FILE]);
}

#[tokio::test]
async fn metadata_instances_and_templates() {
    let env = Env::start().await;
    let bob = env.user_token(BOB).await;
    let templates = env.get(&bob, "/metadata_templates/enterprise").await;
    let body = templates.expect(200);
    check("MetadataTemplates", body);
    assert_eq!(body["entries"][0]["templateKey"], METADATA_TEMPLATE);
    assert_eq!(
        body["entries"][0]["scope"],
        format!("enterprise_{ENTERPRISE_ID}")
    );
    let schema = env
        .get(&bob, "/metadata_templates/enterprise/projectInfo/schema")
        .await;
    check("MetadataTemplate", schema.expect(200));

    let list = env
        .get(&bob, &format!("/files/{FALCON_OVERVIEW_FILE}/metadata"))
        .await;
    let body = list.expect(200);
    check("Metadatas", body);
    assert_eq!(body["entries"][0]["status"], "active");
    let path = format!("/files/{FALCON_OVERVIEW_FILE}/metadata/enterprise/projectInfo");
    let one = env.get(&bob, &path).await;
    let body = one.expect(200);
    check("Metadata--Full", body);
    assert_eq!(body["$parent"], format!("file_{FALCON_OVERVIEW_FILE}"));
    assert_eq!(body["$canEdit"], true);

    // JSON-patch update, with its content type.
    let patch = json!([
        {"op": "test", "path": "/status", "value": "active"},
        {"op": "replace", "path": "/status", "value": "completed"},
        {"op": "add", "path": "/budget", "value": 150000}
    ]);
    let r = reply(
        env.request(Method::PUT, &path, Some(&bob))
            .header("content-type", "application/json-patch+json")
            .body(patch.to_string()),
    )
    .await;
    let body = r.expect(200);
    check("Metadata--Full", body);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["budget"], 150000);
    assert_eq!(body["$version"], 1);
    env.send_json(Method::PUT, &bob, &path, &patch)
        .await
        .expect_error(400, "bad_request");
    let bad = json!([{"op": "replace", "path": "/status", "value": "nonsense"}]);
    let r = reply(
        env.request(Method::PUT, &path, Some(&bob))
            .header("content-type", "application/json-patch+json")
            .body(bad.to_string()),
    )
    .await;
    r.expect_error(400, "bad_request");

    // Create, clash, delete.
    let new_path = format!(
        "/files/{FALCON_REQUIREMENTS_FILE}/metadata/enterprise_{ENTERPRISE_ID}/projectInfo"
    );
    let r = env
        .send_json(
            Method::POST,
            &bob,
            &new_path,
            &json!({"projectName": "Falcon", "dueDate": "2026-06-15T00:00:00Z"}),
        )
        .await;
    check("Metadata--Full", r.expect(201));
    let r = env
        .send_json(
            Method::POST,
            &bob,
            &new_path,
            &json!({"projectName": "Again"}),
        )
        .await;
    r.expect_error(409, "tuple_already_exists");
    check("MetadataError", &r.body);
    env.send_json(Method::POST, &bob, &new_path, &json!({"nope": 1}))
        .await
        .expect_error(409, "tuple_already_exists");
    env.delete(&bob, &new_path).await.expect(204);
    env.get(&bob, &new_path)
        .await
        .expect_error(404, "instance_not_found");
    env.get(
        &bob,
        &format!("/files/{FALCON_REQUIREMENTS_FILE}/metadata/enterprise/unknown"),
    )
    .await
    .expect_error(404, "not_found");
    // Viewers read but do not write; writing needs item_upload.
    let carol = env.user_token(CAROL).await;
    env.get(&carol, &path).await.expect(200);
    env.delete(&carol, &path)
        .await
        .expect_error(403, "access_denied_insufficient_permissions");
    let preview = env.downscope(&bob, "item_preview", None).await;
    env.delete(&preview, &path)
        .await
        .expect_error(403, "insufficient_scope");
    // Global properties take free-form values.
    let props = format!("/folders/{FALCON_FOLDER}/metadata/global/properties");
    let r = env
        .send_json(Method::POST, &bob, &props, &json!({"color": "blue"}))
        .await;
    check("Metadata--Full", r.expect(201));
}

#[tokio::test]
async fn collaborations_grant_and_revoke_access() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let dave = env.user_token(DAVE).await;
    let list = env
        .get(
            &alice,
            &format!("/folders/{TEAM_PROJECTS_FOLDER}/collaborations"),
        )
        .await;
    let body = list.expect(200);
    check("Collaborations", body);
    let roles: Vec<_> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["accessible_by"]["id"].clone(), c["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [
            (json!(BOB), json!("editor")),
            (json!(CAROL), json!("viewer"))
        ]
    );

    env.get(&dave, &format!("/files/{FALCON_OVERVIEW_FILE}"))
        .await
        .expect_error(404, "not_found");
    let r = env
        .send_json(
            Method::POST,
            &alice,
            "/collaborations",
            &json!({"item": {"type": "folder", "id": TEAM_PROJECTS_FOLDER}, "accessible_by": {"type": "user", "login": "dave@example.com"}, "role": "previewer"}),
        )
        .await;
    let collab = r.expect(201).clone();
    check("Collaboration", &collab);
    assert_eq!(collab["role"], "previewer");
    assert_eq!(collab["item"]["id"], TEAM_PROJECTS_FOLDER);
    env.get(&dave, &format!("/files/{FALCON_OVERVIEW_FILE}"))
        .await
        .expect(200);
    // Previewers may not download.
    env.get(&dave, &format!("/files/{FALCON_OVERVIEW_FILE}/content"))
        .await
        .expect_error(403, "access_denied_insufficient_permissions");
    let id = collab["id"].as_str().unwrap();
    check(
        "Collaboration",
        env.get(&alice, &format!("/collaborations/{id}"))
            .await
            .expect(200),
    );
    // Twice is an error; so are bad roles and unknown users.
    env.send_json(
        Method::POST,
        &alice,
        "/collaborations",
        &json!({"item": {"type": "folder", "id": TEAM_PROJECTS_FOLDER}, "accessible_by": {"type": "user", "id": DAVE}, "role": "editor"}),
    )
    .await
    .expect_error(400, "user_already_collaborator");
    env.send_json(
        Method::POST,
        &alice,
        "/collaborations",
        &json!({"item": {"type": "folder", "id": TEAM_PROJECTS_FOLDER}, "accessible_by": {"type": "user", "id": DAVE}, "role": "owner"}),
    )
    .await
    .expect_error(400, "bad_request");
    env.send_json(
        Method::POST,
        &alice,
        "/collaborations",
        &json!({"item": {"type": "folder", "id": ALICE_PRIVATE_FOLDER}, "accessible_by": {"type": "user", "id": "999"}, "role": "editor"}),
    )
    .await
    .expect_error(404, "not_found");
    // Viewers cannot invite.
    let carol = env.user_token(CAROL).await;
    env.send_json(
        Method::POST,
        &carol,
        "/collaborations",
        &json!({"item": {"type": "folder", "id": FALCON_FOLDER}, "accessible_by": {"type": "user", "id": DAVE}, "role": "viewer"}),
    )
    .await
    .expect_error(403, "access_denied_insufficient_permissions");
    // Removing it takes access away again.
    env.delete(&alice, &format!("/collaborations/{id}"))
        .await
        .expect(204);
    env.get(&dave, &format!("/files/{FALCON_OVERVIEW_FILE}"))
        .await
        .expect_error(404, "not_found");
    env.delete(&alice, &format!("/collaborations/{id}"))
        .await
        .expect_error(404, "not_found");
}

#[tokio::test]
async fn shared_links_are_set_and_removed() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let path = format!("/files/{ALICE_NOTES_FILE}?fields=shared_link");
    let r = env
        .send_json(
            Method::PUT,
            &alice,
            &path,
            &json!({"shared_link": {"access": "company", "permissions": {"can_download": true}}}),
        )
        .await;
    let body = r.expect(200);
    check("File--Full", body);
    let link = &body["shared_link"];
    assert_eq!(link["access"], "company");
    assert_eq!(link["effective_permission"], "can_download");
    assert!(link["url"].as_str().unwrap().starts_with(env.sb.base_url()));
    assert!(body.get("name").is_none(), "only the requested fields");
    // A shared link can restrict an exchanged token.
    let url = link["url"].as_str().unwrap().to_string();
    let r = env
        .token_call(&[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &alice),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
            ("scope", "item_preview"),
            ("box_shared_link", &url),
        ])
        .await;
    assert_eq!(r.body["restricted_to"][0]["object"]["id"], ALICE_NOTES_FILE);
    // Folders too; then remove.
    let folder = format!("/folders/{ALICE_PRIVATE_FOLDER}?fields=shared_link");
    let r = env
        .send_json(
            Method::PUT,
            &alice,
            &folder,
            &json!({"shared_link": {"access": "open"}}),
        )
        .await;
    check("Folder--Full", r.expect(200));
    assert_eq!(r.body["shared_link"]["download_url"], Value::Null);
    let r = env
        .send_json(Method::PUT, &alice, &path, &json!({"shared_link": null}))
        .await;
    assert_eq!(r.expect(200)["shared_link"], Value::Null);
    env.send_json(
        Method::PUT,
        &alice,
        &path,
        &json!({"shared_link": {"access": "everyone"}}),
    )
    .await
    .expect_error(400, "bad_request");
    // Sharing needs item_share.
    let rename = env
        .downscope(&alice, "item_rename item_preview", None)
        .await;
    env.send_json(
        Method::PUT,
        &rename,
        &path,
        &json!({"shared_link": {"access": "open"}}),
    )
    .await
    .expect_error(403, "insufficient_scope");
}

#[tokio::test]
async fn ai_answers_from_the_files_text() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let ai = env
        .downscope(&alice, "ai.readwrite item_download", None)
        .await;
    let r = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/ask",
            &json!({"mode": "single_item_qa", "prompt": "What is the launch date?", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}]}),
        )
        .await;
    let body = r.expect(200).clone();
    check("AiResponse--Full", &body);
    assert!(
        body["answer"].as_str().unwrap().contains("2026-06-15"),
        "{body}"
    );
    assert_eq!(body["completion_reason"], "done");
    let citation = &body["citations"][0];
    assert_eq!(citation["id"], ALICE_NOTES_FILE);
    assert_eq!(citation["name"], "meeting-notes.txt");
    // Deterministic.
    let again = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/ask",
            &json!({"mode": "single_item_qa", "prompt": "What is the launch date?", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}]}),
        )
        .await;
    assert_eq!(again.body["answer"], body["answer"]);
    // Several files.
    let r = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/ask",
            &json!({"mode": "multiple_item_qa", "prompt": "Which vendor is recommended for the payment provider?", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}, {"id": FALCON_OVERVIEW_FILE, "type": "file"}]}),
        )
        .await;
    check("AiResponse--Full", r.expect(200));
    // Extract.
    let r = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/extract",
            &json!({"prompt": "budget and decision", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}]}),
        )
        .await;
    let body = r.expect(200);
    check("AiResponse", body);
    let extracted: Value = serde_json::from_str(body["answer"].as_str().unwrap()).unwrap();
    assert_eq!(extracted["Budget"], "120000 USD, approved by finance");
    // Structured, by fields and by template.
    let r = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/extract_structured",
            &json!({"items": [{"id": FALCON_OVERVIEW_FILE, "type": "file"}], "fields": [{"key": "projectName", "displayName": "Project name"}, {"key": "budget", "type": "float"}]}),
        )
        .await;
    let body = r.expect(200);
    check("AiExtractStructuredResponse", body);
    assert_eq!(
        body["answer"],
        json!({"projectName": "Falcon", "budget": 120000.0})
    );
    let r = env
        .send_json(
            Method::POST,
            &ai,
            "/ai/extract_structured",
            &json!({"items": [{"id": FALCON_OVERVIEW_FILE, "type": "file"}], "metadata_template": {"template_key": "projectInfo", "scope": "enterprise", "type": "metadata_template"}, "include_confidence_score": true}),
        )
        .await;
    let body = r.expect(200);
    check("AiExtractStructuredResponse", body);
    assert_eq!(body["answer"]["status"], "active");
    assert_eq!(body["answer"]["dueDate"], "2026-06-15T00:00:00Z");
    assert_eq!(body["confidence_score"]["status"]["level"], "HIGH");
    // Bad requests and invisible files.
    env.send_json(
        Method::POST,
        &ai,
        "/ai/ask",
        &json!({"mode": "single_item_qa", "prompt": "x", "items": [{"id": ALICE_NOTES_FILE, "type": "file"}, {"id": FALCON_OVERVIEW_FILE, "type": "file"}]}),
    )
    .await
    .expect_error(400, "bad_request");
    env.send_json(Method::POST, &ai, "/ai/ask", &json!({"prompt": "x"}))
        .await
        .expect_error(400, "bad_request");
    env.send_json(
        Method::POST,
        &ai,
        "/ai/extract_structured",
        &json!({"items": [{"id": FALCON_OVERVIEW_FILE, "type": "file"}]}),
    )
    .await
    .expect_error(400, "bad_request");
    env.send_json(
        Method::POST,
        &ai,
        "/ai/ask",
        &json!({"mode": "single_item_qa", "prompt": "codename?", "items": [{"id": DAVE_README_FILE, "type": "file"}]}),
    )
    .await
    .expect_error(404, "not_found");
}
