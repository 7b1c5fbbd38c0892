//! The token verifier's caches through its public API: a refused token is refused
//! again from the refusal cache (no second signature check), only for lasting
//! refusals, and never across a change of the issuer's key set.

use std::{sync::Arc, time::Duration};

use box_mcp::auth::{ClaimsConfig, KeyStore, TokenRejection, TokenVerifier, VerifyError};
use jsonwebtoken::Algorithm;

use crate::common::{Mode, TestIssuer, TestKey, key_store, now};

const AUDIENCE: &str = "http://box-mcp.verifier.test/mcp";

async fn verifier(issuer: &TestIssuer) -> (TokenVerifier, Arc<KeyStore>) {
    let (keys, _refresher) = key_store::loaded(
        &issuer.url,
        AUDIENCE,
        vec![Algorithm::RS256],
        Duration::from_secs(0),
        Duration::from_millis(10),
    )
    .await;
    let verifier = TokenVerifier::new(
        keys.clone(),
        ClaimsConfig::default().resolve(),
        issuer.url.clone(),
        vec![Algorithm::RS256],
        Duration::from_secs(0),
        1000,
        Duration::from_secs(300),
    );
    (verifier, keys)
}

fn rejection(result: Result<Arc<box_mcp::auth::Principal>, VerifyError>) -> TokenRejection {
    match result {
        Err(VerifyError::Rejected(r)) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_forged_token_is_refused_from_the_refusal_cache_until_the_key_set_changes() {
    let published = TestKey::generate("k1");
    let issuer = TestIssuer::start(&[&published], Mode::Up).await;
    let (verifier, keys) = verifier(&issuer).await;
    // Signed by another key under the published key's id: a bad signature.
    let other = TestKey::generate("k1");
    let forged = other.sign(&issuer.claims(AUDIENCE, "mallory"));

    assert_eq!(
        rejection(verifier.verify(&forged).await),
        TokenRejection::BadSignature
    );
    assert_eq!(verifier.refused_entries(), 1);
    assert_eq!(
        rejection(verifier.verify(&forged).await),
        TokenRejection::BadSignature
    );
    assert_eq!(verifier.refused_entries(), 1, "one entry per token");
    // A good token is untouched by it.
    let good = published.sign(&issuer.claims(AUDIENCE, "alice"));
    assert_eq!(verifier.verify(&good).await.unwrap().subject, "alice");

    // The issuer replaces k1 with the other key; a token with an unknown kid makes the
    // verifier fetch the new set. The refusal was judged against the old set and is
    // not believed any more: the once-forged token now verifies.
    let before = keys.generation();
    issuer.withdraw("k1");
    issuer.publish(&other);
    let third = TestKey::generate("k3");
    issuer.publish(&third);
    let unknown = third.sign(&issuer.claims(AUDIENCE, "carol"));
    for _ in 0..100 {
        if verifier.verify(&unknown).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(keys.generation(), before, "a new key set");
    assert_eq!(verifier.verify(&forged).await.unwrap().subject, "mallory");
}

#[tokio::test]
async fn only_lasting_refusals_are_remembered() {
    let key = TestKey::generate("k1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    let (verifier, _keys) = verifier(&issuer).await;

    // Not valid yet: time undoes it, so it is judged again each time.
    let mut claims = issuer.claims(AUDIENCE, "early");
    claims["nbf"] = (now() + 3600).into();
    let early = key.sign(&claims);
    assert_eq!(
        rejection(verifier.verify(&early).await),
        TokenRejection::NotYetValid
    );
    // An unknown key: its remedy is a key-set refresh that only a verification starts.
    let stranger = TestKey::generate("k9");
    let unknown = stranger.sign(&issuer.claims(AUDIENCE, "x"));
    assert_eq!(
        rejection(verifier.verify(&unknown).await),
        TokenRejection::UnknownKey
    );
    assert_eq!(verifier.refused_entries(), 0);

    // Lasting: wrong audience, expired, malformed (checked before any decoding).
    let wrong_aud = key.sign(&issuer.claims("http://elsewhere/mcp", "x"));
    assert_eq!(
        rejection(verifier.verify(&wrong_aud).await),
        TokenRejection::WrongAudience
    );
    let mut claims = issuer.claims(AUDIENCE, "late");
    claims["exp"] = (now() - 3600).into();
    let expired = key.sign(&claims);
    assert_eq!(
        rejection(verifier.verify(&expired).await),
        TokenRejection::Expired
    );
    for malformed in ["a.b", "a..c", ".b.c", "a.b.c.d", &"x".repeat(20_000)] {
        assert_eq!(
            rejection(verifier.verify(malformed).await),
            TokenRejection::Malformed
        );
    }
    assert_eq!(verifier.refused_entries(), 2 + 5);
}

/// Valid claims signed under a header given as raw JSON text.
fn with_header(key: &TestKey, issuer: &TestIssuer, header: &str) -> String {
    key.sign_raw(
        header,
        &serde_json::to_string(&issuer.claims(AUDIENCE, "h")).unwrap(),
    )
}

/// The claims `issuer.claims` makes, as JSON text with `extra` members appended
/// verbatim (duplicates included).
fn claims_text(issuer: &TestIssuer, sub: &str, extra: &str) -> String {
    let base = serde_json::to_string(&issuer.claims(AUDIENCE, sub)).unwrap();
    format!("{},{extra}}}", base.trim_end_matches('}'))
}

#[tokio::test]
async fn edge_cases_of_rfc_7515_and_7519_are_refused() {
    let key = TestKey::generate("k1");
    let issuer = TestIssuer::start(&[&key], Mode::Up).await;
    let (verifier, _keys) = verifier(&issuer).await;
    let header = r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#;
    let good = key.sign_raw(
        header,
        &serde_json::to_string(&issuer.claims(AUDIENCE, "ok")).unwrap(),
    );
    assert_eq!(
        verifier.verify(&good).await.unwrap().subject,
        "ok",
        "the raw signer works"
    );

    // RFC 7515 §4.1.11: `crit` naming an extension we do not understand.
    for crit in [
        r#"{"alg":"RS256","kid":"k1","crit":["exp-ext"],"exp-ext":1}"#,
        r#"{"alg":"RS256","kid":"k1","crit":["b64"],"b64":false}"#,
        r#"{"alg":"RS256","kid":"k1","crit":[]}"#,
    ] {
        let token = with_header(&key, &issuer, crit);
        assert_eq!(
            rejection(verifier.verify(&token).await),
            TokenRejection::UnsupportedCritical,
            "{crit}"
        );
    }

    // RFC 8725 §3.11: JWTs of other types are not access tokens.
    for typ in ["logout+jwt", "dpop+jwt", "secevent+jwt", "JOSE"] {
        let h = format!(r#"{{"alg":"RS256","kid":"k1","typ":"{typ}"}}"#);
        let token = with_header(&key, &issuer, &h);
        assert_eq!(
            rejection(verifier.verify(&token).await),
            TokenRejection::WrongType,
            "{typ}"
        );
    }
    for typ in ["JWT", "jwt", "at+jwt", "application/at+JWT"] {
        let h = format!(r#"{{"alg":"RS256","kid":"k1","typ":"{typ}"}}"#);
        let token = with_header(&key, &issuer, &h);
        assert!(verifier.verify(&token).await.is_ok(), "{typ}");
    }

    // `iss` must be the issuer, a string: not an array that contains it.
    let mut claims = issuer.claims(AUDIENCE, "arr");
    claims["iss"] = serde_json::json!([issuer.url, "https://other.example"]);
    assert_eq!(
        rejection(verifier.verify(&key.sign(&claims)).await),
        TokenRejection::WrongIssuer
    );
    let mut claims = issuer.claims(AUDIENCE, "arr1");
    claims["iss"] = serde_json::json!([issuer.url]);
    assert_eq!(
        rejection(verifier.verify(&key.sign(&claims)).await),
        TokenRejection::WrongIssuer
    );

    // The required claims: the first missing one is named, in a fixed order, and
    // an audience that is not strings is malformed (jsonwebtoken would skip it).
    for (remove, missing) in [
        (&["aud", "sub"][..], "aud"),
        (&["sub"][..], "sub"),
        (&["iss", "aud", "sub"][..], "iss"),
    ] {
        let mut claims = issuer.claims(AUDIENCE, "lacking");
        for name in remove {
            claims.as_object_mut().unwrap().remove(*name);
        }
        assert_eq!(
            rejection(verifier.verify(&key.sign(&claims)).await),
            TokenRejection::MissingClaim(missing),
            "without {remove:?}"
        );
    }
    for aud in [
        serde_json::json!(5),
        serde_json::json!([AUDIENCE, 5]),
        serde_json::json!({ "aud": AUDIENCE }),
    ] {
        let mut claims = issuer.claims(AUDIENCE, "odd-aud");
        claims["aud"] = aud.clone();
        assert_eq!(
            rejection(verifier.verify(&key.sign(&claims)).await),
            TokenRejection::InvalidClaim("aud"),
            "aud {aud}"
        );
    }

    // `exp` at the end of the integers: no overflow, a malformed claim.
    for exp in [u64::MAX, u64::MAX - 1, i64::MAX as u64, 253_402_300_800] {
        let mut claims = issuer.claims(AUDIENCE, "far");
        claims["exp"] = exp.into();
        assert_eq!(
            rejection(verifier.verify(&key.sign(&claims)).await),
            TokenRejection::InvalidClaim("exp"),
            "exp {exp}"
        );
    }

    // `iat` in the future (beyond the leeway, 0 s here), and not a number.
    let mut claims = issuer.claims(AUDIENCE, "future");
    claims["iat"] = (now() + 3600).into();
    assert_eq!(
        rejection(verifier.verify(&key.sign(&claims)).await),
        TokenRejection::IssuedInTheFuture
    );
    let mut claims = issuer.claims(AUDIENCE, "odd");
    claims["iat"] = "yesterday".into();
    assert!(verifier.verify(&key.sign(&claims)).await.is_err());

    // A registered claim given twice: whichever copy a reader takes, it is refused.
    for dup in [
        r#""iss":"https://evil.example""#,
        r#""sub":"mallory""#,
        r#""aud":"http://elsewhere/mcp""#,
        r#""exp":1"#,
    ] {
        let token = key.sign_raw(header, &claims_text(&issuer, "dup", dup));
        assert!(
            verifier.verify(&token).await.is_err(),
            "duplicate {dup} accepted"
        );
    }
}

#[tokio::test]
async fn a_re_key_under_the_same_kid_ends_cached_verifications() {
    let old = TestKey::generate("k1");
    let issuer = TestIssuer::start(&[&old], Mode::Up).await;
    let (verifier, keys) = verifier(&issuer).await;
    let cached = old.sign(&issuer.claims(AUDIENCE, "alice"));
    assert_eq!(verifier.verify(&cached).await.unwrap().subject, "alice");
    assert_eq!(verifier.cached_entries(), 1);

    // The issuer re-keys k1 (new key material, same kid); an unknown kid makes the
    // verifier fetch the new set.
    let new = TestKey::generate("k1");
    issuer.withdraw("k1");
    issuer.publish(&new);
    let other = TestKey::generate("k2");
    issuer.publish(&other);
    let before = keys.generation();
    let trigger = other.sign(&issuer.claims(AUDIENCE, "bob"));
    for _ in 0..100 {
        if verifier.verify(&trigger).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_ne!(keys.generation(), before, "the new key set is in use");
    // The cached verification was made with the old k1: judged again, and refused.
    assert_eq!(
        rejection(verifier.verify(&cached).await),
        TokenRejection::BadSignature
    );
    let fresh = new.sign(&issuer.claims(AUDIENCE, "carol"));
    assert_eq!(verifier.verify(&fresh).await.unwrap().subject, "carol");
}
