//! The `box-sandbox` binary: one JSON line when listening, exit on stdin close.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

#[tokio::test]
async fn the_binary_prints_its_address_and_exits_when_stdin_closes() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_box-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--exit-on-stdin-close"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    let msg: Value = serde_json::from_str(&line).expect("JSON line");
    assert_eq!(msg["message"], "listening");
    let addr = msg["addr"].as_str().expect("addr").to_string();
    let info: Value = reqwest::get(format!("http://{addr}/_sandbox/info"))
        .await
        .expect("info")
        .json()
        .await
        .expect("JSON");
    assert_eq!(info["api_base_url"], format!("http://{addr}/2.0"));
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the sandbox did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_bad_seed_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_box-sandbox"))
        .args(["--seed", "/nonexistent/seed.json"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read the seed file"), "{err}");
}
