//! The tool policy on the wire: hot reload seen by a connected caller, broken
//! edits reported and ignored, and the audit trail.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Fixture, Scratch};

/// A private copy of the shipped policy that a test may edit.
fn policy_copy() -> (Scratch, PathBuf, PathBuf) {
    let dir = Scratch::new();
    let shipped = |name: &str| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("policies")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let model = dir.write("model.conf", &shipped("model.conf"));
    let policy = dir.write("policy.csv", &shipped("policy.csv"));
    (dir, model, policy)
}

async fn tool_names(f: &Fixture, token: &str, session: Option<&str>) -> Vec<String> {
    let reply = f.server.rpc(token, session, "tools/list", json!({})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut names: Vec<String> = reply.json_rpc()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn policy_edits_reach_a_connected_caller_within_a_second_and_broken_edits_change_nothing() {
    let (_dir, model, policy) = policy_copy();
    let f = Fixture::start(&[
        ("BOX_MCP_POLICY__MODEL", model.to_str().unwrap()),
        ("BOX_MCP_POLICY__POLICY", policy.to_str().unwrap()),
    ])
    .await;
    let viewer = f.token("erin"); // realm role mcp-viewer
    let session = f.server.initialize(&viewer).await;
    let before = tool_names(&f, &viewer, session.as_deref()).await;
    assert!(
        before.contains(&"whoami".to_string()) && before.contains(&"box_search".to_string()),
        "{before:?}"
    );
    assert!(!before.contains(&"box_file_delete".to_string()));

    // Deny searching to viewers: the same session sees it gone within a second.
    let original = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        format!("{original}\np, role:mcp-viewer, box_search, *, deny\n"),
    )
    .unwrap();
    let edited = Instant::now();
    loop {
        let now = tool_names(&f, &viewer, session.as_deref()).await;
        if !now.contains(&"box_search".to_string()) {
            assert_eq!(now.len(), before.len() - 1, "only box_search went: {now:?}");
            break;
        }
        assert!(
            edited.elapsed() < Duration::from_secs(1),
            "the edit was not applied within a second"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let generation = |v: &Value| v["policy"]["generation"].as_u64().unwrap();
    let ready: Value = f
        .server
        .http
        .get(format!("{}/readyz", f.server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let good_generation = generation(&ready);

    // A broken file: nothing changes, and the error is reported with file and line.
    std::fs::write(
        &policy,
        format!("{original}\np, role:mcp-viewer, box_[search, *, allow\n"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let ready = loop {
        let ready: Value = f
            .server
            .http
            .get(format!("{}/readyz", f.server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !ready["policy"]["last_error"].is_null() || Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        ready["ready"], true,
        "a broken reload keeps the server ready: {ready}"
    );
    let error = ready["policy"]["last_error"].to_string();
    assert!(error.contains("policy.csv"), "{error}");
    assert_eq!(
        generation(&ready),
        good_generation,
        "the last good policy stays"
    );
    let after = tool_names(&f, &viewer, session.as_deref()).await;
    assert!(
        !after.contains(&"box_search".to_string()),
        "still the last good policy: {after:?}"
    );
    let metrics = f
        .server
        .http
        .get(format!("{}/metrics", f.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("box_mcp_policy_reload_failures_total 1"),
        "{metrics}"
    );
    let logs = f.server.logs().join("\n");
    assert!(
        logs.contains("policy.csv"),
        "the reload error is logged with its file"
    );
}

#[tokio::test]
async fn every_tool_call_leaves_one_audit_event_without_values_or_tokens() {
    let f = Fixture::start(&[]).await;
    let viewer = f.token("erin");
    let session = f.server.initialize(&viewer).await;
    // Allowed, denied by policy (viewer deleting), and unknown.
    let secret_value = "do-not-log-this-value-4711";
    for (tool, args) in [
        ("whoami", json!({})),
        ("box_file_delete", json!({"file_id": secret_value})),
        ("no_such_tool", json!({"x": secret_value})),
    ] {
        let reply = f
            .server
            .rpc(
                &viewer,
                session.as_deref(),
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{tool}: {}", reply.body);
    }
    let logs = f.server.stop().await;
    let audit: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "box_mcp::audit" && v["event"] == "tool_call")
        .collect();
    assert_eq!(audit.len(), 3, "{audit:#?}");
    let by_tool = |t: &str| audit.iter().find(|e| e["tool"] == t).unwrap().clone();
    let allowed = by_tool("whoami");
    assert_eq!(allowed["decision"], "allow");
    assert_eq!(allowed["outcome"], "ok");
    assert_eq!(allowed["subject"], "erin");
    assert!(
        allowed["rule"]
            .as_str()
            .unwrap()
            .contains("role:mcp-viewer"),
        "{allowed}"
    );
    assert!(
        allowed["request_id"]
            .as_str()
            .is_some_and(|r| r.len() == 36),
        "{allowed}"
    );
    let denied = by_tool("box_file_delete");
    assert_eq!(denied["decision"], "deny");
    assert_eq!(denied["outcome"], "denied");
    assert!(
        denied["argument_names"]
            .as_str()
            .unwrap()
            .contains("file_id"),
        "{denied}"
    );
    assert_eq!(by_tool("no_such_tool")["outcome"], "unknown_tool");
    let all = logs.join("\n");
    for line in &logs {
        assert!(
            !line.contains(secret_value),
            "argument values never reach the logs: {line}"
        );
    }
    assert!(!all.contains(&viewer), "tokens never reach the logs");
}

#[tokio::test]
async fn the_audit_trail_can_go_to_a_file_of_its_own() {
    let dir = Scratch::new();
    let path = dir.path("audit.log");
    let f = Fixture::start(&[("BOX_MCP_LOG__AUDIT_FILE", path.to_str().unwrap())]).await;
    let viewer = f.token("erin");
    let session = f.server.initialize(&viewer).await;
    let reply = f
        .server
        .rpc(
            &viewer,
            session.as_deref(),
            "tools/call",
            json!({"name": "whoami", "arguments": {}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let logs = f.server.stop().await;
    assert!(
        !logs.iter().any(|l| l.contains("box_mcp::audit")),
        "audit events left the main log"
    );
    let audit = std::fs::read_to_string(&path).unwrap();
    let events: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["tool"], "whoami");
    assert_eq!(events[0]["decision"], "allow");
    let _ = std::fs::remove_file(&path);
}
