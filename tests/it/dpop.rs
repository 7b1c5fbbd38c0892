//! DPoP (RFC 9449) at the resource server, against the test issuer: a DPoP-bound
//! token with a fresh proof reaches the tools; without its proof, with another
//! key's, a replayed, stale or misdirected proof, or as a bearer token, it is
//! refused with 401 and a `DPoP` challenge; the metadata says what is accepted.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{
    self, Fixture, ServerProcess,
    dpop::{DpopKey, ProofClaims},
    now,
};

async fn start(mode: &str) -> Fixture {
    Fixture::start(&[
        ("BOX_MCP_AUTH__DPOP__MODE", mode),
        // One POST per call: every request carries its own proof.
        ("BOX_MCP_STATELESS", "true"),
    ])
    .await
}

/// `tools/call whoami` to `server` (stateless) with `authorization` and, if any,
/// a `DPoP` header.
pub(crate) async fn call_whoami(
    server: &ServerProcess,
    authorization: &str,
    proof: Option<&str>,
) -> common::Reply {
    const WHOAMI: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;
    let mut request = server
        .http
        .post(&server.resource)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", common::server::PROTOCOL_VERSION)
        .header("authorization", authorization)
        .body(WHOAMI);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    common::Reply::read(request.send().await.expect("request")).await
}

/// A token for `sub` bound to `key`.
fn bound_token(f: &Fixture, sub: &str, key: &DpopKey) -> String {
    f.token_with(sub, |c| c["cnf"] = json!({"jkt": key.thumbprint}))
}

fn challenges(reply: &common::Reply) -> Vec<String> {
    reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

/// A 401 with `error` on the DPoP challenge; returns its description.
fn refused_on_dpop(reply: &common::Reply, error: &str) -> String {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    let dpop = challenges(reply)
        .into_iter()
        .find(|c| c.starts_with("DPoP "))
        .unwrap_or_else(|| panic!("no DPoP challenge: {:?}", challenges(reply)));
    assert!(
        dpop.contains(r#"algs="ES256 ES384 PS256 RS256 EdDSA""#),
        "{dpop}"
    );
    assert!(dpop.contains(&format!(r#"error="{error}""#)), "{dpop}");
    reply.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_bound_token_with_a_fresh_proof_reaches_the_tools() {
    let f = start("accepted").await;
    let key = DpopKey::generate();
    let token = bound_token(&f, "dora", &key);
    let proof = key.proof("POST", &f.server.resource, Some(&token));
    let reply = call_whoami(&f.server, &format!("DPoP {token}"), Some(&proof)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.json_rpc()["result"]["structuredContent"]["subject"],
        "dora"
    );
    // A plain bearer token still works while DPoP is only accepted.
    let reply = call_whoami(&f.server, &format!("Bearer {}", f.token("bert")), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

#[tokio::test]
async fn every_broken_proof_or_binding_is_refused_with_its_reason() {
    let f = start("accepted").await;
    let key = DpopKey::generate();
    let token = bound_token(&f, "dora", &key);
    let url = f.server.resource.clone();
    let dpop = format!("DPoP {token}");

    // No proof.
    let reply = call_whoami(&f.server, &dpop, None).await;
    assert!(refused_on_dpop(&reply, "invalid_dpop_proof").contains("no DPoP proof"));
    // A proof by another key.
    let other = DpopKey::generate().proof("POST", &url, Some(&token));
    let reply = call_whoami(&f.server, &dpop, Some(&other)).await;
    assert!(refused_on_dpop(&reply, "invalid_token").contains("another key"));
    // The same proof twice.
    let once = key.proof("POST", &url, Some(&token));
    assert_eq!(
        call_whoami(&f.server, &dpop, Some(&once)).await.status,
        StatusCode::OK
    );
    let reply = call_whoami(&f.server, &dpop, Some(&once)).await;
    assert!(refused_on_dpop(&reply, "invalid_dpop_proof").contains("used before"));
    // Another URL, another method, another token, a stale or a future iat.
    let cases = [
        (
            "another URL",
            "POST",
            "https://elsewhere.example.com/mcp",
            Some(token.as_str()),
            now(),
            "another URL",
        ),
        (
            "another method",
            "GET",
            url.as_str(),
            Some(token.as_str()),
            now(),
            "another method",
        ),
        (
            "another token",
            "POST",
            url.as_str(),
            Some("some-other-token"),
            now(),
            "another access token",
        ),
        ("no ath", "POST", url.as_str(), None, now(), "`ath`"),
        (
            "stale",
            "POST",
            url.as_str(),
            Some(token.as_str()),
            now() - 600,
            "window",
        ),
        (
            "from the future",
            "POST",
            url.as_str(),
            Some(token.as_str()),
            now() + 600,
            "window",
        ),
    ];
    for (what, htm, htu, ath, iat, expected) in cases {
        let proof = key.proof_with(ProofClaims {
            htm,
            htu,
            token: ath,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
        });
        let reply = call_whoami(&f.server, &dpop, Some(&proof)).await;
        let why = refused_on_dpop(&reply, "invalid_dpop_proof");
        assert!(why.contains(expected), "{what}: {why}");
    }
    // Headers a proof must not have: a private key, `none`, HMAC.
    let claims = json!({"htm": "POST", "htu": url, "iat": now(), "jti": "x", "ath": common::dpop::ath(&token)});
    let mut private = key.jwk.clone();
    private["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
    for (what, header, expected) in [
        (
            "private key",
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
            "private",
        ),
        (
            "none",
            json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk}),
            "algorithm",
        ),
        (
            "HMAC",
            json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
            "algorithm",
        ),
        (
            "not a proof",
            json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk}),
            "typ",
        ),
    ] {
        let reply = call_whoami(&f.server, &dpop, Some(&key.sign(header, &claims))).await;
        let why = refused_on_dpop(&reply, "invalid_dpop_proof");
        assert!(why.contains(expected), "{what}: {why}");
    }
    let huge = key.sign(
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk, "pad": "x".repeat(9000)}),
        &claims,
    );
    let reply = call_whoami(&f.server, &dpop, Some(&huge)).await;
    assert!(refused_on_dpop(&reply, "invalid_dpop_proof").contains("larger"));

    // The bound token as a bearer token; an unbound token with the DPoP scheme.
    let reply = call_whoami(&f.server, &format!("Bearer {token}"), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(
        reply.json()["error_description"]
            .as_str()
            .unwrap()
            .contains("bound to a key")
    );
    let plain = f.token("bert");
    let proof = key.proof("POST", &url, Some(&plain));
    let reply = call_whoami(&f.server, &format!("DPoP {plain}"), Some(&proof)).await;
    assert!(refused_on_dpop(&reply, "invalid_token").contains("not DPoP-bound"));
}

#[tokio::test]
async fn the_metadata_and_challenges_say_what_is_accepted() {
    let metadata = |f: &Fixture| {
        let url = format!("{}/.well-known/oauth-protected-resource/mcp", f.server.base);
        let http = f.server.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let off = Fixture::start(&[]).await;
    let m = metadata(&off).await;
    assert!(m.get("dpop_signing_alg_values_supported").is_none(), "{m}");
    let reply = call_whoami(&off.server, "DPoP abc", None).await;
    assert_eq!(
        challenges(&reply).len(),
        1,
        "DPoP off: the Bearer challenge only"
    );

    let accepted = start("accepted").await;
    let m = metadata(&accepted).await;
    assert_eq!(
        m["dpop_signing_alg_values_supported"],
        json!(["ES256", "ES384", "PS256", "RS256", "EdDSA"])
    );
    assert!(m.get("dpop_bound_access_tokens_required").is_none(), "{m}");
    let reply = call_whoami(&accepted.server, "Basic eDp5", None).await;
    let both = challenges(&reply);
    assert!(
        both[0].starts_with("Bearer ") && both[1].starts_with("DPoP algs="),
        "{both:?}"
    );

    let required = start("required").await;
    let m = metadata(&required).await;
    assert_eq!(m["dpop_bound_access_tokens_required"], true, "{m}");
    let reply = call_whoami(
        &required.server,
        &format!("Bearer {}", required.token("bert")),
        None,
    )
    .await;
    let why = refused_on_dpop(&reply, "invalid_token");
    assert!(why.contains("only DPoP-bound"), "{why}");
    assert_eq!(
        challenges(&reply).len(),
        1,
        "required: the DPoP challenge only"
    );
}
