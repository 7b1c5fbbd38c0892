//! The audit trail has one event for every decision, each with the client address:
//! refusals before MCP (authentication, Host, Origin, session, body), `tools/list`
//! (shown and hidden), `tools/call` (also when refused for a scope: one event, not
//! two), and the Box credentials minted for a call.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::box_env::{BoxAuth, BoxEnv, BoxMode};

/// The audit events in `logs`, in order.
fn audit(logs: &[String]) -> Vec<Value> {
    logs.iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "box_mcp::audit")
        .collect()
}

fn of_kind<'a>(events: &'a [Value], event: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == event).collect()
}

#[tokio::test]
async fn every_decision_leaves_exactly_one_audit_event_with_the_client_address() {
    let env = BoxEnv::start(BoxMode::PerUser, BoxAuth::Ccg).await;
    let server = &env.server;
    let alice = env.alice().await;

    // Refused before MCP, one of each kind.
    let no_token = server
        .mcp_raw(Method::POST, None, None, Some(&json!({})))
        .await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED);
    let bad_token = server
        .mcp_raw(Method::POST, Some("a.b.c"), None, Some(&json!({})))
        .await;
    assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED);
    let host = server
        .http
        .post(&server.resource)
        .header("host", "evil.example")
        .bearer_auth(&alice.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(host.status(), StatusCode::FORBIDDEN);
    let origin = server
        .http
        .post(&server.resource)
        .header("origin", "https://evil.example")
        .bearer_auth(&alice.token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(origin.status(), StatusCode::FORBIDDEN);
    let session = server
        .rpc(
            &alice.token,
            Some("no-such-session"),
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(session.status, StatusCode::NOT_FOUND);
    let body = server
        .http
        .post(&server.resource)
        .bearer_auth(&alice.token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(body.status(), StatusCode::BAD_REQUEST);
    // A token signed by a key the issuer never published, claiming a client.
    let stranger = crate::common::TestKey::generate("key-1");
    let mut forged_claims = env.issuer.claims(&server.resource, "mallory");
    forged_claims["azp"] = json!("mallory-client");
    let forged = stranger.sign(&forged_claims);
    let forged_reply = server
        .mcp_raw(Method::POST, Some(&forged), None, Some(&json!({})))
        .await;
    assert_eq!(forged_reply.status, StatusCode::UNAUTHORIZED);

    // tools/list, a Box tool call (with the credentials it minted), and a write call
    // refused for its scope.
    let listed = server
        .rpc(
            &alice.token,
            alice.session.as_deref(),
            "tools/list",
            json!({}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    alice.ok("box_whoami", json!({})).await;
    let mut claims = env.issuer.claims(&server.resource, "alice");
    claims["scope"] = json!("openid mcp:tools");
    claims["realm_access"]["roles"] = json!(["mcp-admin"]);
    claims["box_user_id"] = json!("31000001");
    let read_only = env.key.sign(&claims);
    let reader = server.initialize(&read_only).await;
    let write = server
        .rpc(
            &read_only,
            reader.as_deref(),
            "tools/call",
            json!({"name": "box_folder_create", "arguments": {"parent_folder_id": "0", "name": "x"}}),
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);

    let events = audit(&server.logs());
    let refused = of_kind(&events, "refused");
    let decisions: Vec<&str> = refused
        .iter()
        .map(|e| e["decision"].as_str().unwrap())
        .collect();
    assert_eq!(
        decisions,
        [
            "missing_token",
            "invalid_token",
            "host_not_allowed",
            "origin_not_allowed",
            "session_not_found",
            "invalid_json_rpc",
            "invalid_token"
        ],
        "one event per refusal: {refused:#?}"
    );
    // What a refused token claims is kept, marked as a claim; garbage claims nothing.
    assert_eq!(refused[6]["claimed_client_id"], "mallory-client");
    // A refused token's event says why; other refusals have their code only.
    assert!(
        refused[6]["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{}",
        refused[6]
    );
    assert!(refused[1]["reason"].is_string(), "{}", refused[1]);
    assert!(refused[2].get("reason").is_none(), "{}", refused[2]);
    assert!(
        refused[1].get("claimed_client_id").is_none(),
        "{}",
        refused[1]
    );
    for e in &refused {
        assert_eq!(e["client"], "127.0.0.1", "{e}");
        assert_eq!(e["path"], "/mcp", "{e}");
        assert!(e["request_id"].is_string(), "{e}");
    }

    let listed = of_kind(&events, "tools_listed");
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["client"], "127.0.0.1");
    assert_eq!(listed[0]["subject"], "alice");
    assert!(listed[0]["shown"].as_u64().unwrap() > 0, "{}", listed[0]);
    assert_eq!(listed[0]["hidden"], 0, "an admin sees every tool");

    let calls = of_kind(&events, "tool_call");
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0]["tool"], "box_whoami");
    assert_eq!(calls[0]["decision"], "allow");
    assert_eq!(calls[1]["tool"], "box_folder_create");
    assert_eq!(calls[1]["decision"], "insufficient_scope");
    for e in &calls {
        assert_eq!(e["client"], "127.0.0.1", "{e}");
    }

    let minted = of_kind(&events, "box_credential");
    assert_eq!(minted.len(), 1, "{minted:#?}");
    assert_eq!(minted[0]["box_user"], "31000001");
    assert_eq!(minted[0]["strategy"], "ccg");
    assert!(minted[0]["scopes"].is_string(), "{}", minted[0]);

    // Nothing in the trail is a token.
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains(&alice.token) && !text.contains(&read_only) && !text.contains(&forged));
    assert!(!text.contains("eyJ"), "{text}");
    drop(alice);
    env.stop().await;
}

#[tokio::test]
async fn a_policy_reload_is_audited_with_its_changed_rules_or_its_error() {
    let dir = crate::common::Scratch::new();
    let model = dir.path("model.conf");
    let policy = dir.path("policy.csv");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    std::fs::copy(format!("{shipped}/model.conf"), &model).unwrap();
    std::fs::copy(format!("{shipped}/policy.csv"), &policy).unwrap();
    let f = crate::common::Fixture::start(&[
        ("BOX_MCP_POLICY__MODEL", model.to_str().unwrap()),
        ("BOX_MCP_POLICY__POLICY", policy.to_str().unwrap()),
    ])
    .await;
    let replace = |text: String| {
        let tmp = dir.path("policy.csv.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &policy).unwrap();
    };
    let reloads = || {
        audit(&f.server.logs())
            .into_iter()
            .filter(|e| e["event"] == "policy_reload")
            .collect::<Vec<_>>()
    };
    let wait = |n: usize| async move {
        for _ in 0..100 {
            if reloads().len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no policy_reload event #{n}: {:#?}", reloads());
    };

    // One rule added.
    let mut text = std::fs::read_to_string(format!("{shipped}/policy.csv")).unwrap();
    text.push_str("p, user:zoe, box_file_delete, *, deny\n");
    replace(text);
    wait(1).await;
    let ok = &reloads()[0];
    assert_eq!(ok["outcome"], "ok", "{ok}");
    assert_eq!(ok["generation"], 2, "{ok}");
    assert_eq!(ok["changed_rules"], 1, "{ok}");
    assert!(ok["digest"].as_str().is_some_and(|d| d.len() == 64), "{ok}");

    // A broken file: the error is audited, the last good policy stays.
    replace("p, role:mcp-viewer, *, read\nthis is not a rule\n".into());
    wait(2).await;
    let failed = &reloads()[1];
    assert_eq!(failed["outcome"], "error", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("policy.csv")),
        "{failed}"
    );
    assert_eq!(reloads().len(), 2, "one event per reload");
}
