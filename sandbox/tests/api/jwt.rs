//! The JWT bearer grant, with the test-only key of `fixtures/jwt-app-config.json`.

use std::time::{SystemTime, UNIX_EPOCH};

use box_sandbox::fixture::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pkcs8::{
    EncryptedPrivateKeyInfo, LineEnding,
    der::{Decode, SecretDocument},
};
use rand::{Rng, distr::Alphanumeric};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::Env;

const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const BOX_AUD: &str = "https://api.box.com/oauth2/token";

/// The app's private key, decrypted from the Box app config with its passphrase.
fn app_key() -> EncodingKey {
    let config: Value = serde_json::from_str(JWT_APP_CONFIG).expect("config parses");
    let auth = &config["boxAppSettings"]["appAuth"];
    assert_eq!(auth["publicKeyID"], JWT_KEY_ID);
    assert_eq!(config["boxAppSettings"]["clientID"], JWT_CLIENT_ID);
    assert_eq!(config["enterpriseID"], ENTERPRISE_ID);
    let pem = auth["privateKey"].as_str().expect("privateKey");
    let passphrase = auth["passphrase"].as_str().expect("passphrase");
    let (label, doc) = SecretDocument::from_pem(pem).expect("PEM");
    assert_eq!(label, "ENCRYPTED PRIVATE KEY");
    let encrypted = EncryptedPrivateKeyInfo::from_der(doc.as_bytes()).expect("PKCS#8");
    let decrypted = encrypted.decrypt(passphrase).expect("decrypts");
    let pem = decrypted
        .to_pem("PRIVATE KEY", LineEnding::LF)
        .expect("re-encodes");
    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA key")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jti() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

fn claims(sub_type: &str, sub: &str, aud: &str) -> Value {
    json!({
        "iss": JWT_CLIENT_ID,
        "sub": sub,
        "box_sub_type": sub_type,
        "aud": aud,
        "jti": jti(),
        "exp": now() + 45,
    })
}

fn sign(claims: &Value, alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).expect("signs")
}

async fn grant(env: &Env, assertion: &str) -> crate::common::Reply {
    env.token_call(&[
        ("grant_type", JWT_GRANT),
        ("assertion", assertion),
        ("client_id", JWT_CLIENT_ID),
        ("client_secret", JWT_CLIENT_SECRET),
    ])
    .await
}

#[tokio::test]
async fn signed_assertions_get_tokens() {
    let env = Env::start().await;
    let key = app_key();
    for (alg, sub_type, sub, user) in [
        (
            Algorithm::RS256,
            "enterprise",
            ENTERPRISE_ID,
            SERVICE_ACCOUNT_ID,
        ),
        (Algorithm::RS512, "user", CAROL, CAROL),
    ] {
        let a = sign(&claims(sub_type, sub, BOX_AUD), alg, Some(JWT_KEY_ID), &key);
        let r = grant(&env, &a).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let token = r.body["access_token"].as_str().unwrap();
        let me = env.get(token, "/users/me").await;
        assert_eq!(me.expect(200)["id"], user);
    }
    // The sandbox's own token URL is an accepted audience.
    let a = sign(
        &claims("user", ALICE, &env.sb.token_url()),
        Algorithm::RS256,
        Some(JWT_KEY_ID),
        &key,
    );
    assert_eq!(grant(&env, &a).await.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_assertions_are_refused() {
    let env = Env::start().await;
    let key = app_key();
    let ok = || claims("user", ALICE, BOX_AUD);
    let cases: Vec<(&str, String)> = vec![
        (
            "unknown kid",
            sign(&ok(), Algorithm::RS256, Some("other-key"), &key),
        ),
        ("no kid", sign(&ok(), Algorithm::RS256, None, &key)),
        (
            "HMAC",
            sign(
                &ok(),
                Algorithm::HS256,
                Some(JWT_KEY_ID),
                &EncodingKey::from_secret(b"sandbox-jwt-secret"),
            ),
        ),
        ("wrong aud", {
            let mut c = ok();
            c["aud"] = json!("https://example.com/token");
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("wrong iss", {
            let mut c = ok();
            c["iss"] = json!("someone-else");
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("exp too far", {
            let mut c = ok();
            c["exp"] = json!(now() + 120);
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("expired", {
            let mut c = ok();
            c["exp"] = json!(now() - 5);
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("short jti", {
            let mut c = ok();
            c["jti"] = json!("short");
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("unknown user", {
            let mut c = ok();
            c["sub"] = json!("999");
            sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key)
        }),
        ("tampered", {
            let a = sign(&ok(), Algorithm::RS256, Some(JWT_KEY_ID), &key);
            let (head, _) = a.rsplit_once('.').unwrap();
            let mut c = ok();
            c["sub"] = json!(DAVE);
            let other = sign(&c, Algorithm::RS256, Some(JWT_KEY_ID), &key);
            let (_, sig) = other.rsplit_once('.').unwrap();
            format!("{head}.{sig}")
        }),
        ("not a JWT", "not-a-jwt".to_string()),
    ];
    for (what, assertion) in cases {
        let r = grant(&env, &assertion).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.body);
        assert_eq!(r.body["error"], "invalid_grant", "{what}: {}", r.body);
    }
    // The client secret is checked too.
    let a = sign(&ok(), Algorithm::RS256, Some(JWT_KEY_ID), &key);
    env.token_call(&[
        ("grant_type", JWT_GRANT),
        ("assertion", &a),
        ("client_id", JWT_CLIENT_ID),
        ("client_secret", "wrong"),
    ])
    .await
    .expect_oauth_error("invalid_client");
}

#[tokio::test]
async fn a_jti_cannot_be_reused() {
    let env = Env::start().await;
    let key = app_key();
    let a = sign(
        &claims("enterprise", ENTERPRISE_ID, BOX_AUD),
        Algorithm::RS256,
        Some(JWT_KEY_ID),
        &key,
    );
    assert_eq!(grant(&env, &a).await.status, StatusCode::OK);
    grant(&env, &a).await.expect_oauth_error("invalid_grant");
}
