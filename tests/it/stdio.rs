//! MCP over stdio: no OAuth, the local OS user is the caller.

use std::process::Stdio;

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::Command,
};

#[tokio::test]
async fn stdio_whoami_is_the_local_user_with_configured_roles() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_box-mcp"))
        .arg("stdio")
        .env("USER", "tester")
        .env("BOX_MCP_STDIO__ROLES", r#"["mcp-editor"]"#)
        .env("BOX_MCP_STDIO__BOX_USER_ID", "31000002")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}),
    ];
    for m in &messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();

    let mut stderr = child.stderr.take().unwrap();
    let mut result = None;
    let read = async {
        while let Some(line) = stdout.next_line().await.unwrap() {
            // Every stdout line is protocol: logs go to stderr.
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("non-JSON on stdout: {line}"));
            assert_eq!(v["jsonrpc"], "2.0");
            if v["id"] == 2 {
                result = Some(v);
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .expect("stdio answer");
    let Some(result) = result else {
        let mut err = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut err)
            .await
            .unwrap();
        panic!("no answer from the stdio server; stderr: {err}");
    };
    let me = &result["result"]["structuredContent"];
    assert_eq!(me["subject"], "local:tester");
    assert_eq!(me["username"], "tester");
    assert_eq!(me["issuer"], "local");
    assert_eq!(me["roles"], json!(["mcp-editor"]));
    assert_eq!(me["box_user_id"], "31000002");
    drop(stdin);
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "stdio server exits cleanly when its input ends"
    );
}
