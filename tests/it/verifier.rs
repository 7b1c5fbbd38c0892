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
