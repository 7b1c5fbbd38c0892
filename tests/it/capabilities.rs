//! What box-mcp declares is what it serves: only the tools capability. Methods of
//! the capabilities it does not declare answer -32601, so a client (or the
//! conformance suite's server-stateless scenario) is not told it has prompts,
//! resources or completions.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::Fixture;

#[tokio::test]
async fn undeclared_capabilities_answer_method_not_found_and_tools_still_work() {
    let f = Fixture::start(&[]).await;
    let token = f.token("alice");
    let session = f.server.initialize(&token).await;
    let init = f
        .server
        .mcp_raw(
            reqwest::Method::POST,
            Some(&token),
            None,
            Some(&crate::common::server::initialize_request()),
        )
        .await;
    let capabilities = &init.json_rpc()["result"]["capabilities"];
    assert!(capabilities.get("tools").is_some(), "{capabilities}");
    for absent in ["prompts", "resources", "completions"] {
        assert!(
            capabilities.get(absent).is_none(),
            "{absent}: {capabilities}"
        );
    }
    let completion = json!({
        "ref": {"type": "ref/prompt", "name": "x"},
        "argument": {"name": "a", "value": "b"},
    });
    for (method, params) in [
        ("prompts/list", json!({})),
        ("resources/list", json!({})),
        ("resources/templates/list", json!({})),
        ("completion/complete", completion),
    ] {
        let reply = f
            .server
            .rpc(&token, session.as_deref(), method, params)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{method}: {}", reply.body);
        let error = &reply.json_rpc()["error"];
        assert_eq!(error["code"], -32601, "{method}: {}", reply.body);
        assert_eq!(error["message"], method, "{method}: {}", reply.body);
    }
    let tools = f
        .server
        .rpc(&token, session.as_deref(), "tools/list", json!({}))
        .await;
    assert!(
        tools.json_rpc()["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
}
