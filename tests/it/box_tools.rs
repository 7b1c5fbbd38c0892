//! The Box tools end to end: the real `box-mcp` binary with tokens from a local
//! test issuer, against `box-sandbox` (a Box API emulator with a request log).
//!
//! What is proved here:
//! - per-user isolation: alice, bob, carol and dave each see and change only their
//!   own and shared content; another user's private file is `not_found`;
//! - from the sandbox's request log: every Box API call carried a downscoped token
//!   with exactly the calling tool's declared scopes (and its item restriction),
//!   never a parent token and never the IdP token; tokens are cached (two calls,
//!   one exchange) and concurrent cold calls coalesce (50 calls, one grant, one
//!   exchange);
//! - service and per-user modes, with CCG and with JWT, pass the same core tool
//!   tests; a caller without a Box mapping gets a clear error and Box is not called;
//! - 429 + Retry-After is retried; persistent 5xx and a dead or hanging token
//!   endpoint end in a clear tool error within the configured bounds;
//! - every tool works with valid input and refuses invalid input with
//!   `invalid_argument` before anything reaches Box.
//!
//! Each test has its own sandbox, issuer and server, so they run in parallel.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::OnceLock,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use box_sandbox::{FaultSpec, fixture};
use serde_json::{Value, json};

use crate::common::{
    self,
    box_env::{
        BoxAuth, BoxEnv, BoxMode, Expect, McpUser, ToolReply, api_calls, assert_downscoped,
        assert_no_idp_token, assert_no_parent_token_on_api, exchanges, oauth_calls, parent_grants,
    },
};

// ---------------------------------------------------------------------------------
// The tool → scope contract
// ---------------------------------------------------------------------------------

const PREVIEW: &[&str] = &["item_preview"];
const DOWNLOAD: &[&str] = &["item_download"];
const UPLOAD: &[&str] = &["item_upload"];
const RENAME: &[&str] = &["item_rename"];
const DELETE: &[&str] = &["item_delete"];
const SHARE: &[&str] = &["item_share"];
const AI: &[&str] = &["ai.readwrite", "item_download"];

/// What each Box tool needs at Box, from the operation table of
/// `docs/box-scopes.md`: every Box call the tool makes must be allowed with it.
const CONTRACT: &[(&str, &[&str])] = &[
    ("box_whoami", PREVIEW),
    ("box_search", PREVIEW),
    ("box_folder_get", PREVIEW),
    ("box_folder_list", PREVIEW),
    ("box_folder_create", UPLOAD),
    ("box_folder_update", RENAME),
    ("box_folder_copy", UPLOAD),
    ("box_folder_delete", DELETE),
    ("box_file_get", PREVIEW),
    // Reads the file's representations (item_preview), then the text (item_download).
    ("box_file_read_text", &["item_download", "item_preview"]),
    ("box_file_download", DOWNLOAD),
    ("box_file_upload", UPLOAD),
    ("box_file_update", RENAME),
    ("box_file_copy", UPLOAD),
    ("box_file_delete", DELETE),
    ("box_shared_link_set", SHARE),
    ("box_shared_link_remove", SHARE),
    ("box_collaborations_list", SHARE),
    ("box_collaboration_add", SHARE),
    ("box_collaboration_remove", SHARE),
    ("box_metadata_templates_list", PREVIEW),
    ("box_metadata_get", PREVIEW),
    // Creates the instance, or reads it and patches it (item_preview for the read).
    ("box_metadata_set", &["item_preview", "item_upload"]),
    ("box_metadata_delete", UPLOAD),
    ("box_ai_ask", AI),
    ("box_ai_extract", AI),
    ("box_ai_extract_structured", AI),
];

/// The scopes each tool declares (`BoxTool { name, scopes, .. }` in src/tools/),
/// read from the source, so the request-log checks compare against the declaration.
fn declared() -> &'static BTreeMap<String, BTreeSet<String>> {
    // The Box tools' declarations, from the catalog the server itself uses.
    static DECLARED: OnceLock<BTreeMap<String, BTreeSet<String>>> = OnceLock::new();
    DECLARED.get_or_init(|| {
        box_mcp::mcp::tools::catalog::ALL
            .iter()
            .filter(|t| t.name.starts_with("box_"))
            .map(|t| {
                (
                    t.name.to_string(),
                    t.scopes.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    })
}

fn scopes_of(tool: &str) -> Vec<&'static str> {
    declared()
        .get(tool)
        .unwrap_or_else(|| panic!("{tool} declares no BoxTool"))
        .iter()
        .map(|s| s.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// Runs one tool call as `user` (acting as Box user `box_user`) with an empty
/// request log, asserts it succeeded and what reached the sandbox; returns the
/// structured content.
async fn checked(
    env: &BoxEnv,
    user: &McpUser<'_>,
    box_user: &str,
    tool: &str,
    arguments: Value,
    resource: Expect,
) -> Value {
    // With As-User the token is the service account's, which cannot be restricted
    // to the user's items: it is limited by its scopes and the header instead.
    let resource = if env.mode == BoxMode::PerUserAsUser {
        Expect::Unrestricted
    } else {
        resource
    };
    env.sandbox.clear_requests();
    let data = user.ok(tool, arguments.clone()).await;
    let log = env.sandbox.requests();
    assert_downscoped(
        &log,
        &format!("{tool} {arguments}"),
        &scopes_of(tool),
        &resource,
        box_user,
        &user.token,
    );
    data
}

/// A call that must fail with `code` and leave the request log empty.
async fn refused_locally(env: &BoxEnv, user: &McpUser<'_>, tool: &str, arguments: Value) {
    env.sandbox.clear_requests();
    let reply = user.call(tool, arguments.clone()).await;
    assert!(
        reply.is_error(),
        "{tool} {arguments} must be refused: {}",
        reply.rpc
    );
    assert_eq!(
        reply.structured()["error"],
        "invalid_argument",
        "{tool} {arguments}: {}",
        reply.rpc
    );
    assert!(
        !reply.text().is_empty(),
        "{tool} {arguments}: a message: {}",
        reply.rpc
    );
    let log = env.sandbox.requests();
    assert!(
        log.is_empty(),
        "{tool} {arguments}: nothing may reach Box, got {log:#?}"
    );
}

/// Names of the entries of a listing (`entries[].name`).
fn names(listing: &Value) -> BTreeSet<String> {
    listing["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries in {listing}"))
        .iter()
        .filter_map(|e| e["name"].as_str().map(String::from))
        .collect()
}

fn ids(listing: &Value) -> BTreeSet<String> {
    listing["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no entries in {listing}"))
        .iter()
        .filter_map(|e| e["id"].as_str().map(String::from))
        .collect()
}

fn id_of(item: &Value) -> String {
    item["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {item}"))
        .to_string()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------
// Declarations
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn declared_scopes_match_the_contract_and_the_served_tools() {
    let want: BTreeMap<String, BTreeSet<String>> = CONTRACT
        .iter()
        .map(|(name, scopes)| {
            (
                name.to_string(),
                scopes.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        declared().len(),
        27,
        "27 Box tools: {:?}",
        declared().keys()
    );
    for (tool, scopes) in &want {
        assert_eq!(
            declared().get(tool),
            Some(scopes),
            "{tool}: declared scopes vs. docs/box-scopes.md"
        );
    }

    // tools/list serves exactly whoami and the 27 declared Box tools.
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let alice = env.alice().await;
    let reply = env
        .server
        .rpc(
            &alice.token,
            alice.session.as_deref(),
            "tools/list",
            json!({}),
        )
        .await;
    let listed: BTreeSet<String> = reply.json_rpc()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let mut expected: BTreeSet<String> = declared().keys().cloned().collect();
    expected.insert("whoami".into());
    assert_eq!(listed, expected);
    env.stop().await;
}

// ---------------------------------------------------------------------------------
// The same core tool tests in every mode
// ---------------------------------------------------------------------------------

/// What the core tests expect of one deployment shape.
struct Shape {
    /// The Box user calls act for.
    box_user: &'static str,
    /// A folder of theirs, in their root, and one of its files.
    folder: &'static str,
    folder_name: &'static str,
    file: &'static str,
    file_name: &'static str,
    /// Text in that file, and a word to search it by.
    text: &'static str,
    search: &'static str,
}

const ALICE_SHAPE: Shape = Shape {
    box_user: fixture::ALICE,
    folder: fixture::ALICE_PRIVATE_FOLDER,
    folder_name: "Alice Private",
    file: fixture::ALICE_NOTES_FILE,
    file_name: "meeting-notes.txt",
    text: "the launch date is 2026-06-15",
    search: "kickoff",
};

const SERVICE_SHAPE: Shape = Shape {
    box_user: fixture::SERVICE_ACCOUNT_ID,
    folder: fixture::SERVICE_LIBRARY_FOLDER,
    folder_name: "Service Library",
    file: "400000002002",
    file_name: "faq.txt",
    text: "Your manager approves travel",
    search: "questions",
};

async fn core_tools(mode: BoxMode, auth: BoxAuth) {
    let env = BoxEnv::start(mode, auth).await;
    let shape = match mode {
        BoxMode::Service => &SERVICE_SHAPE,
        BoxMode::PerUser | BoxMode::PerUserAsUser => &ALICE_SHAPE,
    };
    let who = format!("{}/{}", mode.name(), auth.name());
    let user = env.alice().await;
    let box_user = shape.box_user;

    // whoami: the caller as box-mcp sees it; no Box call.
    env.sandbox.clear_requests();
    let me = user.ok("whoami", json!({})).await;
    assert_eq!(me["subject"], "alice", "{who}: {me}");
    assert_eq!(me["box_user_id"], fixture::ALICE, "{who}: {me}");
    assert!(
        env.sandbox.requests().is_empty(),
        "{who}: whoami calls no Box"
    );

    // The Box user the calls act as.
    let box_me = checked(
        &env,
        &user,
        box_user,
        "box_whoami",
        json!({}),
        Expect::Unrestricted,
    )
    .await;
    assert_eq!(box_me["id"], box_user, "{who}: {box_me}");

    // The root and a folder.
    let root = checked(
        &env,
        &user,
        box_user,
        "box_folder_list",
        json!({"folder_id": "0"}),
        Expect::Unrestricted,
    )
    .await;
    assert!(
        names(&root).contains(shape.folder_name),
        "{who}: root {root}"
    );
    let folder = checked(
        &env,
        &user,
        box_user,
        "box_folder_list",
        json!({"folder_id": shape.folder, "limit": 50}),
        Expect::folder(shape.folder),
    )
    .await;
    assert!(names(&folder).contains(shape.file_name), "{who}: {folder}");

    // A file's details and text.
    let file = checked(
        &env,
        &user,
        box_user,
        "box_file_get",
        json!({"file_id": shape.file}),
        Expect::file(shape.file),
    )
    .await;
    assert_eq!(file["name"], shape.file_name, "{who}: {file}");
    let text = checked(
        &env,
        &user,
        box_user,
        "box_file_read_text",
        json!({"file_id": shape.file}),
        Expect::file(shape.file),
    )
    .await;
    assert!(
        text["text"]
            .as_str()
            .unwrap_or_default()
            .contains(shape.text),
        "{who}: {text}"
    );
    assert_eq!(text["truncated"], false, "{who}: {text}");

    // Upload, then find it in the folder.
    let name = format!("core-{}-{}.txt", mode.name().replace('/', "-"), auth.name());
    let uploaded = checked(
        &env,
        &user,
        box_user,
        "box_file_upload",
        json!({"parent_folder_id": shape.folder, "name": name, "content_text": "uploaded by the core test"}),
        Expect::folder(shape.folder),
    )
    .await;
    let new_id = id_of(&uploaded);
    let listing = user
        .ok("box_folder_list", json!({"folder_id": shape.folder}))
        .await;
    assert!(ids(&listing).contains(&new_id), "{who}: {listing}");
    let back = user
        .ok("box_file_read_text", json!({"file_id": new_id}))
        .await;
    assert_eq!(back["text"], "uploaded by the core test", "{who}: {back}");

    // Search.
    let found = checked(
        &env,
        &user,
        box_user,
        "box_search",
        json!({"query": shape.search}),
        Expect::Unrestricted,
    )
    .await;
    assert!(ids(&found).contains(shape.file), "{who}: search {found}");

    // Over the whole run: no API call with a parent token (the log was cleared per
    // call, so check one more full call sequence).
    env.sandbox.clear_requests();
    user.ok("box_file_get", json!({"file_id": shape.file}))
        .await;
    let log = env.sandbox.requests();
    assert_no_parent_token_on_api(&log);
    assert_no_idp_token(&log, &user.token);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_tools_service_ccg() {
    core_tools(BoxMode::Service, BoxAuth::Ccg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_tools_service_jwt() {
    core_tools(BoxMode::Service, BoxAuth::Jwt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_tools_per_user_ccg() {
    core_tools(BoxMode::PerUser, BoxAuth::Ccg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_tools_per_user_jwt() {
    core_tools(BoxMode::PerUser, BoxAuth::Jwt).await;
}

// ---------------------------------------------------------------------------------
// Per-user isolation
// ---------------------------------------------------------------------------------

async fn isolation(mode: BoxMode, auth: BoxAuth) {
    let env = BoxEnv::start(mode, auth).await;
    let alice = env.alice().await;
    let bob = env.bob().await;
    let carol = env.carol().await;
    let dave = env.dave().await;
    env.sandbox.clear_requests();

    // Each root: their own folder, plus Team Projects for its collaborators.
    let expect_roots = [
        (&alice, &["Alice Private", "Team Projects"][..]),
        (&bob, &["Bob Private", "Team Projects"][..]),
        (&carol, &["Carol Private", "Team Projects"][..]),
        (&dave, &["Dave Private"][..]),
    ];
    for (user, want) in expect_roots {
        let listing = user.ok("box_folder_list", json!({"folder_id": "0"})).await;
        let got = names(&listing);
        for name in want {
            assert!(got.contains(*name), "{want:?} in {got:?}");
        }
        for private in [
            "Alice Private",
            "Bob Private",
            "Carol Private",
            "Dave Private",
        ] {
            if !want.contains(&private) {
                assert!(!got.contains(private), "{private} leaked into {got:?}");
            }
        }
        if !want.contains(&"Team Projects") {
            assert!(!got.contains("Team Projects"), "{got:?}");
        }
    }

    // Alice's private file: hers only. Bob cannot read it: not found.
    let notes = fixture::ALICE_NOTES_FILE;
    let mine = alice.ok("box_file_get", json!({"file_id": notes})).await;
    assert_eq!(mine["name"], "meeting-notes.txt");
    for other in [&bob, &carol, &dave] {
        other
            .fails("box_file_get", json!({"file_id": notes}), "not_found")
            .await;
        other
            .fails("box_file_read_text", json!({"file_id": notes}), "not_found")
            .await;
        other
            .fails("box_file_download", json!({"file_id": notes}), "not_found")
            .await;
        other
            .fails(
                "box_folder_list",
                json!({"folder_id": fixture::ALICE_PRIVATE_FOLDER}),
                "not_found",
            )
            .await;
        // Nor change or delete it.
        other
            .fails(
                "box_file_update",
                json!({"file_id": notes, "name": "stolen.txt"}),
                "not_found",
            )
            .await;
        other
            .fails("box_file_delete", json!({"file_id": notes}), "not_found")
            .await;
        // Search does not find it for them.
        let found = other.ok("box_search", json!({"query": "kickoff"})).await;
        assert!(!ids(&found).contains(notes), "{found}");
    }
    let found = alice.ok("box_search", json!({"query": "kickoff"})).await;
    assert!(ids(&found).contains(notes), "{found}");
    let still = alice.ok("box_file_get", json!({"file_id": notes})).await;
    assert_eq!(still["name"], "meeting-notes.txt", "untouched: {still}");

    // Each user changes their own content; nobody else sees it.
    let privates = [
        (&alice, "alice", fixture::ALICE_PRIVATE_FOLDER),
        (&bob, "bob", fixture::BOB_PRIVATE_FOLDER),
        (&carol, "carol", fixture::CAROL_PRIVATE_FOLDER),
        (&dave, "dave", fixture::DAVE_PRIVATE_FOLDER),
    ];
    let mut created = Vec::new();
    for (user, name, folder) in privates {
        let file = user
            .ok(
                "box_file_upload",
                json!({"parent_folder_id": folder, "name": format!("{name}-own.txt"), "content_text": format!("{name}'s own words")}),
            )
            .await;
        let id = id_of(&file);
        let renamed = user
            .ok(
                "box_file_update",
                json!({"file_id": id, "name": format!("{name}-renamed.txt"), "description": "mine"}),
            )
            .await;
        assert_eq!(renamed["name"], format!("{name}-renamed.txt"));
        created.push((name, id));
    }
    for (owner, id) in &created {
        for (user, name, _) in privates {
            if name == *owner {
                let text = user.ok("box_file_read_text", json!({"file_id": id})).await;
                assert_eq!(text["text"], format!("{owner}'s own words"));
            } else {
                user.fails("box_file_get", json!({"file_id": id}), "not_found")
                    .await;
            }
        }
    }

    // Shared content: bob (editor) adds a file to Team Projects; alice (owner) and
    // carol (viewer) read it; dave (no collaboration) cannot.
    let team = fixture::TEAM_PROJECTS_FOLDER;
    let shared = bob
        .ok(
            "box_file_upload",
            json!({"parent_folder_id": team, "name": "bob-shared.txt", "content_text": "from bob to the team"}),
        )
        .await;
    let shared_id = id_of(&shared);
    for reader in [&alice, &carol] {
        let text = reader
            .ok("box_file_read_text", json!({"file_id": shared_id}))
            .await;
        assert_eq!(text["text"], "from bob to the team");
        let listing = reader
            .ok("box_folder_list", json!({"folder_id": team}))
            .await;
        assert!(ids(&listing).contains(&shared_id), "{listing}");
    }
    dave.fails("box_file_get", json!({"file_id": shared_id}), "not_found")
        .await;
    dave.fails("box_folder_list", json!({"folder_id": team}), "not_found")
        .await;

    // Bob edits the shared overview; carol (viewer) may read but not change it.
    let overview = fixture::FALCON_OVERVIEW_FILE;
    bob.ok(
        "box_file_update",
        json!({"file_id": overview, "description": "edited by bob"}),
    )
    .await;
    let reply = carol
        .call(
            "box_file_upload",
            json!({"parent_folder_id": team, "name": "carol-tries.txt", "content_text": "x"}),
        )
        .await;
    assert!(reply.is_error(), "a viewer cannot upload: {}", reply.rpc);
    let reply = carol
        .call(
            "box_file_update",
            json!({"file_id": overview, "name": "carol-renamed.md"}),
        )
        .await;
    assert!(reply.is_error(), "a viewer cannot rename: {}", reply.rpc);
    let listing = alice
        .ok("box_folder_list", json!({"folder_id": team}))
        .await;
    let got = names(&listing);
    assert!(got.contains("project-falcon.md"), "{got:?}");
    assert!(!got.contains("carol-tries.txt"), "{got:?}");
    let text = carol.ok("box_file_get", json!({"file_id": overview})).await;
    assert_eq!(text["description"], "edited by bob", "{text}");

    // Nothing of that carried an IdP token or used a parent token for the API.
    let log = env.sandbox.requests();
    assert_no_parent_token_on_api(&log);
    for user in [&alice, &bob, &carol, &dave] {
        assert_no_idp_token(&log, &user.token);
    }
    // Each call acted for one of the four users (the token's user, or `As-User`).
    let users = set(&[fixture::ALICE, fixture::BOB, fixture::CAROL, fixture::DAVE]);
    for entry in api_calls(&log) {
        let acting = entry
            .token
            .as_ref()
            .and_then(|t| t.as_user.clone().or(t.subject.clone()));
        assert!(
            acting.as_ref().is_some_and(|s| users.contains(s)),
            "{} {} acted for {acting:?}",
            entry.method,
            entry.path
        );
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_change_only_their_own_and_shared_content_ccg() {
    isolation(BoxMode::PerUser, BoxAuth::Ccg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_change_only_their_own_and_shared_content_jwt() {
    isolation(BoxMode::PerUser, BoxAuth::Jwt).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_see_and_change_only_their_own_and_shared_content_as_user() {
    isolation(BoxMode::PerUserAsUser, BoxAuth::Ccg).await;
}

// ---------------------------------------------------------------------------------
// Token exchange, caching and coalescing
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_called_twice_by_one_user_exchanges_once() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let alice = env.alice().await;
    let bob = env.bob().await;
    env.sandbox.clear_requests();
    let args = json!({"file_id": fixture::FALCON_OVERVIEW_FILE});

    alice.ok("box_file_get", args.clone()).await;
    alice.ok("box_file_get", args.clone()).await;
    let log = env.sandbox.requests();
    assert_eq!(parent_grants(&log), 1, "{log:#?}");
    assert_eq!(exchanges(&log), 1, "{log:#?}");
    let api = api_calls(&log);
    assert_eq!(api.len(), 2);
    assert_eq!(
        api[0].token.as_ref().unwrap().fingerprint,
        api[1].token.as_ref().unwrap().fingerprint,
        "the same downscoped token"
    );

    // Another tool: another exchange, from the same (cached) parent.
    env.sandbox.clear_requests();
    alice.ok("box_file_read_text", args.clone()).await;
    let log = env.sandbox.requests();
    assert_eq!(parent_grants(&log), 0, "{log:#?}");
    assert_eq!(exchanges(&log), 1, "{log:#?}");

    // Another user: their own parent and exchange; never alice's token.
    env.sandbox.clear_requests();
    bob.ok("box_file_get", args.clone()).await;
    let log = env.sandbox.requests();
    assert_eq!(parent_grants(&log), 1, "{log:#?}");
    assert_eq!(exchanges(&log), 1, "{log:#?}");
    let token = api_calls(&log)[0].token.clone().unwrap();
    assert_eq!(token.subject.as_deref(), Some(fixture::BOB));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_cold_calls_make_one_grant_and_one_exchange() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let alice = env.alice().await;
    env.sandbox.clear_requests();
    let args = json!({"file_id": fixture::ALICE_NOTES_FILE});
    let calls = (0..50).map(|_| alice.call("box_file_get", args.clone()));
    let replies: Vec<ToolReply> = futures::future::join_all(calls).await;
    for reply in &replies {
        assert_eq!(reply.ok()["name"], "meeting-notes.txt");
    }
    let log = env.sandbox.requests();
    assert_eq!(
        parent_grants(&log),
        1,
        "one parent grant: {:#?}",
        oauth_calls(&log)
    );
    assert_eq!(exchanges(&log), 1, "one exchange: {:#?}", oauth_calls(&log));
    assert_eq!(oauth_calls(&log).len(), 2);
    let api = api_calls(&log);
    assert_eq!(api.len(), 50);
    let fingerprints: BTreeSet<&str> = api
        .iter()
        .map(|e| e.token.as_ref().unwrap().fingerprint.as_str())
        .collect();
    assert_eq!(
        fingerprints.len(),
        1,
        "all 50 used the one downscoped token"
    );
    assert_downscoped(
        &log,
        "box_file_get x50",
        &scopes_of("box_file_get"),
        &Expect::file(fixture::ALICE_NOTES_FILE),
        fixture::ALICE,
        &alice.token,
    );
    env.stop().await;
}

// ---------------------------------------------------------------------------------
// Callers without Box access
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_caller_without_a_box_mapping_gets_a_clear_error_and_box_is_not_called() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let nobody = env.user("mallory", None).await;
    let malformed = env.user("eve", Some("not-a-box-id")).await;
    env.sandbox.clear_requests();
    for (user, tool, args) in [
        (&nobody, "box_whoami", json!({})),
        (&nobody, "box_folder_list", json!({"folder_id": "0"})),
        (
            &nobody,
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        ),
        (&nobody, "box_search", json!({"query": "falcon"})),
        (
            &malformed,
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        ),
    ] {
        let reply = user.fails(tool, args, "no_box_access").await;
        let message = reply.structured()["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("not mapped to a Box user"),
            "{tool}: {message}"
        );
    }
    let log = env.sandbox.requests();
    assert!(log.is_empty(), "nothing reached Box: {log:#?}");

    // whoami still works and shows no Box user.
    let me = nobody.ok("whoami", json!({})).await;
    assert!(me["box_user_id"].is_null(), "{me}");
    env.stop().await;
}

#[tokio::test]
async fn box_tools_say_box_is_not_configured_when_it_is_disabled() {
    let key = common::TestKey::generate("key-1");
    let issuer = common::TestIssuer::start(&[&key], common::Mode::Up).await;
    let server = common::ServerProcess::start(&issuer.url, &[]).await;
    server.wait_ready(Duration::from_secs(20)).await;
    let token = key.sign(&issuer.claims(&server.resource, "alice"));
    let user = McpUser::connect(&server, token).await;
    user.fails(
        "box_file_get",
        json!({"file_id": fixture::ALICE_NOTES_FILE}),
        "not_configured",
    )
    .await;
    user.fails("box_whoami", json!({}), "not_configured").await;
    let logs = server.stop().await;
    common::box_env::assert_no_panic(&logs);
}

// ---------------------------------------------------------------------------------
// Faults: rate limits, outages, a dead token endpoint
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_with_retry_after_is_retried_and_succeeds() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let alice = env.alice().await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/2.0/files/".into()),
            status: Some(429),
            retry_after: Some(1),
            times: Some(1),
            ..Default::default()
        })
        .unwrap();
    env.sandbox.clear_requests();
    let reply = alice
        .call(
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        )
        .await;
    assert_eq!(reply.ok()["name"], "meeting-notes.txt");
    eprintln!("429 + Retry-After: 1: success after {:?}", reply.elapsed);
    assert!(
        reply.elapsed >= Duration::from_millis(950),
        "Retry-After: 1 was honoured: {:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < Duration::from_secs(10),
        "{:?}",
        reply.elapsed
    );
    let log = env.sandbox.requests();
    let api = api_calls(&log);
    assert_eq!(api.len(), 2, "{api:#?}");
    assert_eq!(api[0].status, 429);
    assert!(api[0].fault.is_some());
    assert_eq!(api[1].status, 200);
    // The retry used the same downscoped token, and no new exchange was needed.
    assert_eq!(
        api[0].token.as_ref().unwrap().fingerprint,
        api[1].token.as_ref().unwrap().fingerprint
    );
    assert_eq!(exchanges(&log), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_server_errors_end_in_box_unavailable_within_the_bound() {
    // A configured bound: 3 attempts, 5 s in all.
    let env = BoxEnv::start_with(
        BoxMode::PerUser,
        BoxAuth::Ccg,
        &[
            ("BOX_MCP_BOX__API_MAX_ATTEMPTS", "3"),
            ("BOX_MCP_BOX__API_RETRY_MAX_ELAPSED", "5s"),
        ],
    )
    .await;
    let alice = env.alice().await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/2.0/".into()),
            status: Some(503),
            ..Default::default()
        })
        .unwrap();
    env.sandbox.clear_requests();
    let reply = alice
        .call(
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        )
        .await;
    reply.assert_error("box_unavailable");
    eprintln!("persistent 503: box_unavailable after {:?}", reply.elapsed);
    // The configured API retry policy: 3 attempts (backoff 0.2 s, 0.4 s), 5 s in all.
    assert!(
        reply.elapsed < Duration::from_secs(5),
        "within the retry bound: {:?}",
        reply.elapsed
    );
    let log = env.sandbox.requests();
    let api = api_calls(&log);
    assert_eq!(api.len(), 3, "3 attempts: {api:#?}");
    assert!(api.iter().all(|e| e.status == 503));

    // Box recovers: the next call works.
    env.sandbox.clear_faults();
    alice
        .ok(
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        )
        .await;
    env.stop().await;
}

/// Small token-endpoint bounds: 3 attempts, 1 s per attempt, 2 s in all.
const TOKEN_BOUNDS: &[(&str, &str)] = &[
    ("BOX_MCP_BOX__TOKEN_MAX_ATTEMPTS", "3"),
    ("BOX_MCP_BOX__TOKEN_RETRY_MAX_ELAPSED", "2s"),
    ("BOX_MCP_BOX__TOKEN_RETRY_INITIAL_BACKOFF", "100ms"),
    ("BOX_MCP_BOX__TIMEOUT", "1s"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_ends_in_a_clear_error_within_the_bound() {
    let env = BoxEnv::start_with(BoxMode::PerUser, BoxAuth::Ccg, TOKEN_BOUNDS).await;
    let alice = env.alice().await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/oauth2/token".into()),
            status: Some(503),
            ..Default::default()
        })
        .unwrap();
    env.sandbox.clear_requests();
    let reply = alice
        .call(
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        )
        .await;
    reply.assert_error("box_unavailable");
    eprintln!(
        "token endpoint 503: box_unavailable after {:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < Duration::from_secs(5),
        "within token_retry_max_elapsed (2 s) and some slack: {:?}",
        reply.elapsed
    );
    let log = env.sandbox.requests();
    assert!(api_calls(&log).is_empty(), "no API call without a token");
    let attempts = oauth_calls(&log).len();
    assert!((1..=3).contains(&attempts), "{attempts} token attempts");

    env.sandbox.clear_faults();
    alice
        .ok(
            "box_file_get",
            json!({"file_id": fixture::ALICE_NOTES_FILE}),
        )
        .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_token_endpoint_ends_in_a_clear_error_within_the_bound() {
    let env = BoxEnv::start_with(BoxMode::PerUser, BoxAuth::Jwt, TOKEN_BOUNDS).await;
    let alice = env.alice().await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/oauth2/token".into()),
            latency_ms: Some(30_000),
            ..Default::default()
        })
        .unwrap();
    let started = Instant::now();
    let reply = alice
        .call("box_folder_list", json!({"folder_id": "0"}))
        .await;
    reply.assert_error("box_unavailable");
    eprintln!(
        "hanging token endpoint: box_unavailable after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "no hang: {:?}",
        started.elapsed()
    );
    env.sandbox.clear_faults();
    alice.ok("box_folder_list", json!({"folder_id": "0"})).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_token_endpoint_ends_in_a_clear_error_within_the_bound() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}/oauth2/token")
    };
    let mut settings = TOKEN_BOUNDS.to_vec();
    settings.push(("BOX_MCP_BOX__TOKEN_URL", &closed));
    let env = BoxEnv::start_with(BoxMode::Service, BoxAuth::Ccg, &settings).await;
    let alice = env.alice().await;
    let reply = alice.call("box_whoami", json!({})).await;
    reply.assert_error("box_unavailable");
    eprintln!(
        "unreachable token endpoint: box_unavailable after {:?}",
        reply.elapsed
    );
    assert!(
        reply.elapsed < Duration::from_secs(5),
        "{:?}",
        reply.elapsed
    );
    assert!(env.sandbox.requests().is_empty());
    env.stop().await;
}

// ---------------------------------------------------------------------------------
// Every tool with valid input
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_works_with_valid_input() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let alice = env.alice().await;
    let a = fixture::ALICE;
    let private = fixture::ALICE_PRIVATE_FOLDER;
    let team = fixture::TEAM_PROJECTS_FOLDER;
    let notes = fixture::ALICE_NOTES_FILE;
    let overview = fixture::FALCON_OVERVIEW_FILE;
    let mut used = BTreeSet::new();
    let mut run = async |tool: &str, args: Value, resource: Expect| -> Value {
        used.insert(tool.to_string());
        checked(&env, &alice, a, tool, args, resource).await
    };

    // whoami (not a Box tool: no Box call).
    env.sandbox.clear_requests();
    assert_eq!(alice.ok("whoami", json!({})).await["box_user_id"], a);
    assert!(env.sandbox.requests().is_empty());

    let me = run("box_whoami", json!({}), Expect::Unrestricted).await;
    assert_eq!(me["login"], "alice@example.com");

    // Search, with filters.
    let found = run(
        "box_search",
        json!({"query": "falcon", "item_type": "file", "file_extensions": ["md"], "limit": 10}),
        Expect::Unrestricted,
    )
    .await;
    assert!(ids(&found).contains(overview), "{found}");

    // Folders.
    let folder = run(
        "box_folder_get",
        json!({"folder_id": team}),
        Expect::folder(team),
    )
    .await;
    assert_eq!(folder["name"], "Team Projects");
    let tree = run(
        "box_folder_list",
        json!({"folder_id": team, "depth": 2}),
        Expect::folder(team),
    )
    .await;
    let paths: BTreeSet<String> = tree["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert!(paths.contains("Falcon/requirements.txt"), "{paths:?}");
    let page = run(
        "box_folder_list",
        json!({"folder_id": private, "limit": 2, "offset": 1}),
        Expect::folder(private),
    )
    .await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{page}");
    let created = run(
        "box_folder_create",
        json!({"parent_folder_id": private, "name": "Reports"}),
        Expect::folder(private),
    )
    .await;
    let reports = id_of(&created);
    let renamed = run(
        "box_folder_update",
        json!({"folder_id": reports, "name": "Reports 2026", "description": "yearly"}),
        Expect::folder(&reports),
    )
    .await;
    assert_eq!(renamed["name"], "Reports 2026");
    let moved = run(
        "box_folder_update",
        json!({"folder_id": reports, "parent_folder_id": team}),
        Expect::Unrestricted,
    )
    .await;
    assert_eq!(moved["parent"]["id"], team, "{moved}");
    let copy = run(
        "box_folder_copy",
        json!({"folder_id": reports, "parent_folder_id": private, "name": "Reports copy"}),
        Expect::Unrestricted,
    )
    .await;
    let copy_id = id_of(&copy);
    assert_ne!(copy_id, reports);

    // Files.
    let file = run(
        "box_file_get",
        json!({"file_id": notes}),
        Expect::file(notes),
    )
    .await;
    assert_eq!(file["name"], "meeting-notes.txt");
    let text = run(
        "box_file_read_text",
        json!({"file_id": notes, "max_bytes": 20}),
        Expect::file(notes),
    )
    .await;
    assert_eq!(text["truncated"], true, "{text}");
    assert_eq!(text["text"], "Project Falcon kicko", "{text}");
    let download = run(
        "box_file_download",
        json!({"file_id": notes}),
        Expect::file(notes),
    )
    .await;
    let bytes = STANDARD
        .decode(download["content_base64"].as_str().unwrap())
        .unwrap();
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .starts_with("Project Falcon kickoff")
    );
    let uploaded = run(
        "box_file_upload",
        json!({"parent_folder_id": private, "name": "hello.txt", "content_text": "hello"}),
        Expect::folder(private),
    )
    .await;
    let hello = id_of(&uploaded);
    let etag = uploaded["etag"].as_str().map(String::from);
    let mut version = json!({"file_id": hello, "name": "hello.txt", "content_base64": STANDARD.encode("hello, version 2")});
    if let Some(etag) = etag {
        version["if_match_etag"] = json!(etag);
    }
    run("box_file_upload", version, Expect::file(&hello)).await;
    let text = alice
        .ok("box_file_read_text", json!({"file_id": hello}))
        .await;
    assert_eq!(text["text"], "hello, version 2");
    let renamed = run(
        "box_file_update",
        json!({"file_id": hello, "name": "hello-renamed.txt", "description": "greeting"}),
        Expect::file(&hello),
    )
    .await;
    assert_eq!(renamed["name"], "hello-renamed.txt");
    run(
        "box_file_update",
        json!({"file_id": hello, "parent_folder_id": copy_id}),
        Expect::Unrestricted,
    )
    .await;
    let copied = run(
        "box_file_copy",
        json!({"file_id": hello, "parent_folder_id": private, "name": "hello-copy.txt"}),
        Expect::Unrestricted,
    )
    .await;
    let hello_copy = id_of(&copied);
    run(
        "box_file_delete",
        json!({"file_id": hello_copy}),
        Expect::file(&hello_copy),
    )
    .await;
    alice
        .fails("box_file_get", json!({"file_id": hello_copy}), "not_found")
        .await;

    // Shared links and collaborations.
    let linked = run(
        "box_shared_link_set",
        json!({"item_type": "file", "item_id": hello, "access": "company"}),
        Expect::file(&hello),
    )
    .await;
    assert!(linked["shared_link"]["url"].is_string(), "{linked}");
    let unlinked = run(
        "box_shared_link_remove",
        json!({"item_type": "file", "item_id": hello}),
        Expect::file(&hello),
    )
    .await;
    assert!(unlinked["shared_link"].is_null(), "{unlinked}");
    let collaborations = run(
        "box_collaborations_list",
        json!({"item_type": "folder", "item_id": team}),
        Expect::folder(team),
    )
    .await;
    assert_eq!(
        collaborations["entries"].as_array().unwrap().len(),
        2,
        "{collaborations}"
    );
    let added = run(
        "box_collaboration_add",
        json!({"item_type": "folder", "item_id": copy_id, "user_login": "dave@example.com", "role": "viewer"}),
        Expect::folder(&copy_id),
    )
    .await;
    let collaboration = id_of(&added);
    let dave = env.dave().await;
    dave.ok("box_folder_get", json!({"folder_id": copy_id}))
        .await;
    run(
        "box_collaboration_remove",
        json!({"collaboration_id": collaboration}),
        Expect::Unrestricted,
    )
    .await;
    dave.fails("box_folder_get", json!({"folder_id": copy_id}), "not_found")
        .await;

    // Metadata.
    let templates = run(
        "box_metadata_templates_list",
        json!({}),
        Expect::Unrestricted,
    )
    .await;
    assert!(
        templates.to_string().contains(fixture::METADATA_TEMPLATE),
        "{templates}"
    );
    let instance = run(
        "box_metadata_get",
        json!({"file_id": overview, "template_key": "projectInfo"}),
        Expect::file(overview),
    )
    .await;
    assert_eq!(instance["projectName"], "Falcon", "{instance}");
    let all = run(
        "box_metadata_get",
        json!({"file_id": overview}),
        Expect::file(overview),
    )
    .await;
    assert_eq!(all["entries"].as_array().unwrap().len(), 1, "{all}");
    let created = run(
        "box_metadata_set",
        json!({"file_id": notes, "template_key": "projectInfo", "values": {"projectName": "Notes"}}),
        Expect::file(notes),
    )
    .await;
    assert_eq!(created["projectName"], "Notes", "{created}");
    // An existing instance: its fields are updated.
    let updated = run(
        "box_metadata_set",
        json!({"file_id": overview, "template_key": "projectInfo", "values": {"status": "completed"}}),
        Expect::file(overview),
    )
    .await;
    assert_eq!(updated["status"], "completed", "{updated}");
    assert_eq!(updated["projectName"], "Falcon", "{updated}");
    run(
        "box_metadata_delete",
        json!({"file_id": notes, "template_key": "projectInfo"}),
        Expect::file(notes),
    )
    .await;
    alice
        .fails(
            "box_metadata_get",
            json!({"file_id": notes, "template_key": "projectInfo"}),
            "not_found",
        )
        .await;

    // Box AI: one file (restricted token) and several (not restricted).
    let answer = run(
        "box_ai_ask",
        json!({"prompt": "When is the launch date?", "file_ids": [notes]}),
        Expect::file(notes),
    )
    .await;
    assert!(answer["answer"].is_string(), "{answer}");
    run(
        "box_ai_ask",
        json!({"prompt": "What is the budget?", "file_ids": [notes, overview]}),
        Expect::Unrestricted,
    )
    .await;
    let extracted = run(
        "box_ai_extract",
        json!({"prompt": "the budget and the launch date", "file_ids": [notes]}),
        Expect::file(notes),
    )
    .await;
    assert!(extracted["answer"].is_string(), "{extracted}");
    let fields = run(
        "box_ai_extract_structured",
        json!({"file_ids": [overview], "fields": [
            {"key": "projectName", "description": "the project's name"},
            {"key": "budget", "type": "float"}
        ]}),
        Expect::file(overview),
    )
    .await;
    assert!(fields.to_string().contains("projectName"), "{fields}");

    // Deleting a folder with content needs recursive.
    let reply = alice
        .call("box_folder_delete", json!({"folder_id": copy_id}))
        .await;
    assert!(reply.is_error(), "not empty: {}", reply.rpc);
    run(
        "box_folder_delete",
        json!({"folder_id": copy_id, "recursive": true}),
        Expect::folder(&copy_id),
    )
    .await;
    alice
        .fails("box_folder_get", json!({"folder_id": copy_id}), "not_found")
        .await;

    let all: BTreeSet<String> = declared().keys().cloned().collect();
    let missing: Vec<&String> = all.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "tools without a valid-input test: {missing:?}"
    );
    env.stop().await;
}

// ---------------------------------------------------------------------------------
// Every tool with invalid input
// ---------------------------------------------------------------------------------

/// Invalid calls of every Box tool: bad ids, bad names, missing arguments, values
/// out of range or not in the allowed set.
fn invalid_calls() -> Vec<(&'static str, Value)> {
    let file = fixture::ALICE_NOTES_FILE;
    let folder = fixture::ALICE_PRIVATE_FOLDER;
    let long = "x".repeat(256);
    vec![
        ("box_search", json!({})),
        ("box_search", json!({"query": "   "})),
        ("box_search", json!({"query": "x".repeat(501)})),
        ("box_search", json!({"query": "falcon", "limit": 0})),
        ("box_search", json!({"query": "falcon", "limit": 201})),
        ("box_search", json!({"query": "falcon", "offset": 10_001})),
        (
            "box_search",
            json!({"query": "falcon", "item_type": "user"}),
        ),
        (
            "box_search",
            json!({"query": "falcon", "file_extensions": ["m d"]}),
        ),
        (
            "box_search",
            json!({"query": "falcon", "ancestor_folder_ids": ["abc"]}),
        ),
        ("box_search", json!({"query": "falcon", "limit": -1})),
        ("box_folder_get", json!({})),
        ("box_folder_get", json!({"folder_id": "abc"})),
        ("box_folder_get", json!({"folder_id": "../1"})),
        (
            "box_folder_get",
            json!({"folder_id": "123456789012345678901"}),
        ),
        ("box_folder_list", json!({})),
        ("box_folder_list", json!({"folder_id": "-1"})),
        ("box_folder_list", json!({"folder_id": folder, "limit": 0})),
        (
            "box_folder_list",
            json!({"folder_id": folder, "limit": 1001}),
        ),
        ("box_folder_list", json!({"folder_id": folder, "depth": 4})),
        (
            "box_folder_list",
            json!({"folder_id": folder, "offset": 100_001}),
        ),
        (
            "box_folder_list",
            json!({"folder_id": folder, "offset": 0, "marker": ""}),
        ),
        (
            "box_folder_list",
            json!({"folder_id": folder, "limit": "ten"}),
        ),
        ("box_folder_create", json!({"parent_folder_id": folder})),
        (
            "box_folder_create",
            json!({"parent_folder_id": folder, "name": ""}),
        ),
        (
            "box_folder_create",
            json!({"parent_folder_id": folder, "name": "a/b"}),
        ),
        (
            "box_folder_create",
            json!({"parent_folder_id": folder, "name": ".."}),
        ),
        (
            "box_folder_create",
            json!({"parent_folder_id": folder, "name": " lead"}),
        ),
        (
            "box_folder_create",
            json!({"parent_folder_id": folder, "name": long}),
        ),
        (
            "box_folder_create",
            json!({"parent_folder_id": "x1", "name": "ok"}),
        ),
        ("box_folder_update", json!({"folder_id": folder})),
        (
            "box_folder_update",
            json!({"folder_id": "0", "name": "root"}),
        ),
        (
            "box_folder_update",
            json!({"folder_id": folder, "name": "a\\b"}),
        ),
        (
            "box_folder_update",
            json!({"folder_id": folder, "parent_folder_id": "up"}),
        ),
        (
            "box_folder_update",
            json!({"folder_id": folder, "description": "d".repeat(257)}),
        ),
        ("box_folder_copy", json!({"folder_id": folder})),
        (
            "box_folder_copy",
            json!({"folder_id": folder, "parent_folder_id": "0", "name": "tab\tname"}),
        ),
        (
            "box_folder_copy",
            json!({"folder_id": "1e5", "parent_folder_id": "0"}),
        ),
        ("box_folder_delete", json!({})),
        ("box_folder_delete", json!({"folder_id": "0"})),
        ("box_folder_delete", json!({"folder_id": "12 34"})),
        ("box_file_get", json!({})),
        ("box_file_get", json!({"file_id": "abc"})),
        ("box_file_get", json!({"file_id": 12345})),
        ("box_file_read_text", json!({"file_id": "x"})),
        (
            "box_file_read_text",
            json!({"file_id": file, "max_bytes": 0}),
        ),
        (
            "box_file_read_text",
            json!({"file_id": file, "max_bytes": 200_001}),
        ),
        ("box_file_download", json!({})),
        ("box_file_download", json!({"file_id": "1.5"})),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "name": "a.txt"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "name": "a.txt", "content_text": "x", "content_base64": "eA=="}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "name": "a.txt", "content_base64": "not base64!"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "name": "a/b.txt", "content_text": "x"}),
        ),
        (
            "box_file_upload",
            json!({"name": "a.txt", "content_text": "x"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "file_id": file, "name": "a.txt", "content_text": "x"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": "root", "name": "a.txt", "content_text": "x"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "content_text": "x"}),
        ),
        (
            "box_file_upload",
            json!({"parent_folder_id": folder, "name": "big.bin", "content_text": "x".repeat(10 * 1024 * 1024 + 1)}),
        ),
        ("box_file_update", json!({"file_id": file})),
        ("box_file_update", json!({"file_id": file, "name": "."})),
        ("box_file_update", json!({"file_id": "f", "name": "ok.txt"})),
        ("box_file_copy", json!({"file_id": file})),
        (
            "box_file_copy",
            json!({"file_id": file, "parent_folder_id": folder, "name": ""}),
        ),
        ("box_file_delete", json!({})),
        ("box_file_delete", json!({"file_id": "/etc/passwd"})),
        (
            "box_shared_link_set",
            json!({"item_type": "file", "item_id": file}),
        ),
        (
            "box_shared_link_set",
            json!({"item_type": "file", "item_id": file, "access": "everyone"}),
        ),
        (
            "box_shared_link_set",
            json!({"item_type": "web_link", "item_id": file, "access": "open"}),
        ),
        (
            "box_shared_link_set",
            json!({"item_type": "file", "item_id": "x", "access": "open"}),
        ),
        ("box_shared_link_remove", json!({"item_type": "file"})),
        (
            "box_shared_link_remove",
            json!({"item_type": "files", "item_id": file}),
        ),
        (
            "box_collaborations_list",
            json!({"item_type": "folder", "item_id": ""}),
        ),
        ("box_collaborations_list", json!({"item_id": folder})),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "user_id": fixture::BOB, "role": "owner"}),
        ),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "role": "viewer"}),
        ),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "user_id": fixture::BOB, "user_login": "bob@example.com", "role": "viewer"}),
        ),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "user_login": "bob", "role": "viewer"}),
        ),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "user_id": "bob", "role": "viewer"}),
        ),
        (
            "box_collaboration_add",
            json!({"item_type": "folder", "item_id": folder, "user_id": fixture::BOB}),
        ),
        ("box_collaboration_remove", json!({})),
        (
            "box_collaboration_remove",
            json!({"collaboration_id": "c-1"}),
        ),
        (
            "box_metadata_get",
            json!({"file_id": file, "template_key": "1bad"}),
        ),
        (
            "box_metadata_get",
            json!({"file_id": file, "scope": "user"}),
        ),
        ("box_metadata_get", json!({"file_id": "abc"})),
        (
            "box_metadata_set",
            json!({"file_id": file, "template_key": "projectInfo", "values": {}}),
        ),
        (
            "box_metadata_set",
            json!({"file_id": file, "template_key": "projectInfo", "values": {"$id": "x"}}),
        ),
        (
            "box_metadata_set",
            json!({"file_id": file, "template_key": "project info", "values": {"a": 1}}),
        ),
        (
            "box_metadata_set",
            json!({"file_id": file, "template_key": "projectInfo"}),
        ),
        ("box_metadata_delete", json!({"file_id": file})),
        (
            "box_metadata_delete",
            json!({"file_id": file, "template_key": "projectInfo", "scope": "enterprise_1"}),
        ),
        ("box_ai_ask", json!({"prompt": "why?", "file_ids": []})),
        ("box_ai_ask", json!({"prompt": "", "file_ids": [file]})),
        ("box_ai_ask", json!({"prompt": "why?", "file_ids": ["abc"]})),
        (
            "box_ai_ask",
            json!({"prompt": "why?", "file_ids": vec![file; 26]}),
        ),
        ("box_ai_ask", json!({"file_ids": [file]})),
        (
            "box_ai_extract",
            json!({"prompt": "p".repeat(10_001), "file_ids": [file]}),
        ),
        ("box_ai_extract", json!({"prompt": "dates"})),
        (
            "box_ai_extract_structured",
            json!({"file_ids": [file], "fields": []}),
        ),
        (
            "box_ai_extract_structured",
            json!({"file_ids": [file], "fields": [{"key": "a", "type": "integer"}]}),
        ),
        (
            "box_ai_extract_structured",
            json!({"file_ids": [file], "fields": [{"key": " "}]}),
        ),
        (
            "box_ai_extract_structured",
            json!({"file_ids": [], "fields": [{"key": "a"}]}),
        ),
        ("box_ai_extract_structured", json!({"file_ids": [file]})),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_refuses_invalid_input_without_calling_box() {
    // A body limit well above the upload limit, so that the tool's own check is
    // what refuses an oversized upload, not the HTTP body limit (413).
    let env = BoxEnv::start_with(
        BoxMode::PerUser,
        BoxAuth::Ccg,
        &[("BOX_MCP_HTTP__MAX_BODY_BYTES", "16777216")],
    )
    .await;
    let alice = env.alice().await;
    let mut covered = BTreeSet::new();
    for (tool, args) in invalid_calls() {
        covered.insert(tool.to_string());
        refused_locally(&env, &alice, tool, args).await;
    }

    // Tools without arguments: arguments that are not an object do not even make a
    // valid `tools/call` request (a JSON-RPC error), and nothing reaches Box.
    for tool in ["whoami", "box_whoami", "box_metadata_templates_list"] {
        env.sandbox.clear_requests();
        let reply = alice
            .call_raw(tool, json!({"name": tool, "arguments": "not an object"}))
            .await;
        let error = reply.rpc.get("error").cloned().unwrap_or_else(|| {
            panic!(
                "{tool} with non-object arguments must be refused: {}",
                reply.rpc
            )
        });
        let code = error["code"].as_i64().unwrap_or_default();
        assert!(
            [-32602, -32601, -32600].contains(&code),
            "{tool}: a JSON-RPC request error: {error}"
        );
        assert!(env.sandbox.requests().is_empty());
        covered.insert(tool.to_string());
    }

    let mut all: BTreeSet<String> = declared().keys().cloned().collect();
    all.insert("whoami".into());
    let missing: Vec<&String> = all.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "tools without an invalid-input test: {missing:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_tools_per_user_as_user_ccg() {
    core_tools(BoxMode::PerUserAsUser, BoxAuth::Ccg).await;
}

/// At shutdown box-mcp revokes every Box token it minted and still held (parents and
/// downscoped ones), so none outlives the process; the sandbox then refuses them.
#[tokio::test]
async fn a_shutdown_revokes_the_box_tokens_box_mcp_held() {
    for auth in [BoxAuth::Ccg, BoxAuth::Jwt] {
        let env = BoxEnv::start(BoxMode::PerUser, auth).await;
        let alice = env.alice().await;
        alice.ok("box_whoami", json!({})).await;
        alice
            .ok(
                "box_file_read_text",
                json!({"file_id": fixture::ALICE_NOTES_FILE}),
            )
            .await;
        let log = env.sandbox.requests();
        let issued: BTreeSet<String> = oauth_calls(&log)
            .iter()
            .filter(|e| e.status == 200)
            .filter_map(|e| e.oauth.as_ref()?.issued_token.clone())
            .collect();
        // One parent and a downscoped token per tool.
        assert_eq!(issued.len(), 3, "{auth:?}: {issued:?}");
        let used: BTreeSet<String> = api_calls(&log)
            .iter()
            .filter_map(|e| Some(e.token.as_ref()?.fingerprint.clone()))
            .collect();
        assert!(used.is_subset(&issued), "{auth:?}: {used:?}");

        env.sandbox.clear_requests();
        drop(alice);
        let BoxEnv {
            sandbox, server, ..
        } = env;
        let logs = server.stop().await;
        common::box_env::assert_no_panic(&logs);
        let after = sandbox.requests();
        let revoked: BTreeSet<String> = after
            .iter()
            .filter(|e| e.path == "/oauth2/revoke" && e.status == 200)
            .filter_map(|e| e.oauth.as_ref()?.revoked_token.clone())
            .collect();
        assert_eq!(revoked, issued, "{auth:?}: every held token revoked");
        assert!(
            logs.iter()
                .any(|l| l.contains("revoked the Box tokens box-mcp held")
                    && l.contains("\"revoked\":3")),
            "{auth:?}: {logs:#?}"
        );
    }
}

/// A tool call that takes longer than `box.tool_timeout` is stopped and answered
/// with `tool_timeout`; the next call is unaffected.
#[tokio::test]
async fn a_tool_call_over_its_time_limit_gets_tool_timeout() {
    let env = BoxEnv::start_with(
        BoxMode::PerUser,
        BoxAuth::Ccg,
        &[("BOX_MCP_BOX__TOOL_TIMEOUT", "1s")],
    )
    .await;
    let alice = env.alice().await;
    alice.ok("box_whoami", json!({})).await;
    env.sandbox
        .add_fault(FaultSpec {
            path: Some("/2.0/users/me".into()),
            latency_ms: Some(4000),
            times: Some(1),
            ..Default::default()
        })
        .unwrap();
    let started = Instant::now();
    let reply = alice.fails("box_whoami", json!({}), "tool_timeout").await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(3000),
        "{elapsed:?}"
    );
    assert!(
        reply.text().contains("box.tool_timeout"),
        "{}",
        reply.text()
    );
    assert_eq!(
        alice.ok("box_whoami", json!({})).await["id"],
        fixture::ALICE
    );
    drop(alice);
    env.stop().await;
}
