//! Fault injection and the loopback-only control endpoints.

use std::{
    net::{IpAddr, SocketAddr, UdpSocket},
    time::{Duration, Instant},
};

use box_sandbox::{FaultSpec, SandboxConfig, fixture::*};
use serde_json::json;

use crate::{
    common::{Env, reply},
    schemas::check,
};

#[tokio::test]
async fn rate_limits_for_the_next_n_calls() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    let r = reply(
        env.http
            .post(env.control("/faults"))
            .json(&json!({"path": "/2.0/files/", "status": 429, "retry_after": 3, "times": 2})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let path = format!("/files/{ALICE_NOTES_FILE}");
    for _ in 0..2 {
        let r = env.get(&alice, &path).await;
        r.expect_error(429, "rate_limit_exceeded");
        assert_eq!(r.header("retry-after"), Some("3"));
    }
    env.get(&alice, &path).await.expect(200);
    // Other paths were not affected, and the log names the fault.
    env.get(&alice, "/folders/0").await.expect(200);
    let log = env.log().await;
    let faulted: Vec<_> = log.iter().filter(|e| e.get("fault").is_some()).collect();
    assert_eq!(faulted.len(), 2);
    assert_eq!(faulted[0]["status"], 429);
    let r = reply(env.http.get(env.control("/faults"))).await;
    assert_eq!(r.body["entries"], json!([]), "spent faults are dropped");
}

#[tokio::test]
async fn server_errors_latency_and_token_endpoint_failures() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    env.sb
        .add_fault(FaultSpec {
            method: Some("GET".into()),
            path: Some("/2.0/folders".into()),
            status: Some(503),
            times: Some(1),
            ..FaultSpec::default()
        })
        .unwrap();
    let r = env.get(&alice, "/folders/0").await;
    r.expect_error(503, "unavailable");
    env.get(&alice, "/folders/0").await.expect(200);

    env.sb
        .add_fault(FaultSpec {
            path: Some("/2.0/users/me".into()),
            latency_ms: Some(300),
            times: Some(1),
            ..FaultSpec::default()
        })
        .unwrap();
    let start = Instant::now();
    env.get(&alice, "/users/me").await.expect(200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    // The token endpoint fails in OAuth's shape.
    env.sb
        .add_fault(FaultSpec {
            path: Some("/oauth2/token".into()),
            status: Some(500),
            times: Some(1),
            ..FaultSpec::default()
        })
        .unwrap();
    let r = env
        .token_call(&[
            ("grant_type", "client_credentials"),
            ("client_id", CCG_CLIENT_ID),
            ("client_secret", CCG_CLIENT_SECRET),
            ("box_subject_type", "enterprise"),
            ("box_subject_id", ENTERPRISE_ID),
        ])
        .await;
    assert_eq!(r.status.as_u16(), 500);
    check("OAuth2Error", &r.body);
    assert_eq!(r.body["error"], "temporarily_unavailable");
    env.service_token().await;

    // Bad fault specs are refused; clearing works.
    let r = reply(
        env.http
            .post(env.control("/faults"))
            .json(&json!({"path": "/x"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400);
    let r = reply(
        env.http
            .post(env.control("/faults"))
            .json(&json!({"status": 500, "sometimes": true})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400);
    env.sb
        .add_fault(FaultSpec {
            status: Some(500),
            ..FaultSpec::default()
        })
        .unwrap();
    env.get(&alice, "/users/me").await.expect(500);
    let r = reply(env.http.delete(env.control("/faults"))).await;
    assert_eq!(r.status.as_u16(), 204);
    env.get(&alice, "/users/me").await.expect(200);
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let env = Env::start().await;
    let alice = env.user_token(ALICE).await;
    env.delete(&alice, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect(204);
    let r = reply(env.http.post(env.control("/reset"))).await;
    assert_eq!(r.status.as_u16(), 204);
    // Tokens were cleared too.
    env.get(&alice, "/users/me")
        .await
        .expect_error(401, "unauthorized");
    let alice = env.user_token(ALICE).await;
    env.get(&alice, &format!("/files/{ALICE_NOTES_FILE}"))
        .await
        .expect(200);
}

/// A local address that is not loopback, if the machine has one.
fn non_loopback_ip() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.250:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test]
async fn control_endpoints_refuse_non_loopback_peers() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("no non-loopback address here: skipping");
        return;
    };
    let env = Env::with(SandboxConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..SandboxConfig::default()
    })
    .await;
    let port = env.sb.addr().port();
    let remote = SocketAddr::new(ip, port);
    let r = reply(env.http.get(format!("http://{remote}/_sandbox/requests"))).await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    let r = reply(
        env.http
            .post(format!("http://{remote}/_sandbox/faults"))
            .json(&json!({"status": 500})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 403);
    // The API itself is served to anyone; the control endpoints on loopback.
    let r = reply(env.http.get(format!("http://{remote}/2.0/users/me"))).await;
    assert_eq!(r.status.as_u16(), 401);
    let r = reply(env.http.get(env.control("/requests"))).await;
    assert_eq!(r.status.as_u16(), 200);
}
