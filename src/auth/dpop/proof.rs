//! Checking a DPoP proof (RFC 9449 §4.3) for one request: the proof is a JWT the
//! client signs with the private half of the key its access token is bound to,
//! naming the request (`htm`, `htu`), the moment (`iat`), a nonce of its own
//! (`jti`) and the token (`ath`). What is checked, in order, is below; the first
//! failure is the answer.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{AlgorithmParameters, Jwk, ThumbprintHash},
};
use serde_json::{Map, Value};

/// Longest proof judged at all; a real one is well under 2 KiB.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest `jti` kept for replay detection.
const MAX_JTI_BYTES: usize = 256;
/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Why a proof is refused; the text goes into `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRejection {
    #[error("the request has no DPoP proof header")]
    Missing,
    #[error("the request has more than one DPoP header")]
    Duplicate,
    #[error("the DPoP proof is not a well-formed JWT")]
    Malformed,
    #[error("the DPoP proof is larger than this server accepts")]
    TooLarge,
    #[error("the DPoP proof's typ is not dpop+jwt")]
    WrongType,
    #[error("the DPoP proof's algorithm is not accepted")]
    AlgorithmNotAllowed,
    #[error("the DPoP proof carries no public key (jwk)")]
    MissingKey,
    #[error("the DPoP proof's jwk is a private or symmetric key")]
    PrivateKey,
    #[error("the DPoP proof's jwk does not fit its algorithm")]
    KeyMismatch,
    #[error("the DPoP proof's signature is invalid")]
    BadSignature,
    #[error("the DPoP proof lacks the claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the DPoP proof is for another method (htm)")]
    WrongMethod,
    #[error("the DPoP proof is for another URL (htu)")]
    WrongUrl,
    #[error("the DPoP proof's iat is outside the accepted window")]
    Stale,
    #[error("the DPoP proof is for another access token (ath)")]
    WrongToken,
    #[error("the DPoP proof was used before (jti)")]
    Replayed,
}

/// What a proof must match: the request and the token it came with.
pub struct Request<'a> {
    pub method: &'a str,
    /// `public_base_url` + the request's path: what the client was told to call.
    pub url: &'a url::Url,
    pub access_token: &'a str,
    pub now: u64,
}

/// A proof that passed every check but replay: the key's RFC 7638 thumbprint
/// (what `cnf.jkt` must equal) and the `jti`, for the replay cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedProof {
    pub jkt: String,
    pub jti: String,
    pub iat: u64,
}

/// The proof's checks, short of replay.
pub fn check(
    proof: &str,
    request: &Request<'_>,
    algorithms: &[Algorithm],
    max_age: Duration,
) -> Result<CheckedProof, ProofRejection> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofRejection::TooLarge);
    }
    let mut parts = proof.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofRejection::Malformed);
    };
    let header: Map<String, Value> = B64
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(ProofRejection::Malformed)?;
    let typ = header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(ProofRejection::WrongType);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse::<Algorithm>().ok())
        .filter(|a| algorithms.contains(a) && is_asymmetric(*a))
        .ok_or(ProofRejection::AlgorithmNotAllowed)?;
    let raw_jwk = header
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or(ProofRejection::MissingKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| raw_jwk.contains_key(*m)) {
        return Err(ProofRejection::PrivateKey);
    }
    let jwk: Jwk = serde_json::from_value(Value::Object(raw_jwk.clone()))
        .map_err(|_| ProofRejection::MissingKey)?;
    if !fits(&jwk.algorithm, alg) {
        return Err(ProofRejection::KeyMismatch);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ProofRejection::KeyMismatch)?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(proof, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => ProofRejection::BadSignature,
            _ => ProofRejection::Malformed,
        })?
        .claims;

    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ProofRejection::MissingClaim(name))
    };
    let jti = text("jti")?;
    if jti.len() > MAX_JTI_BYTES {
        return Err(ProofRejection::Malformed);
    }
    if text("htm")? != request.method {
        return Err(ProofRejection::WrongMethod);
    }
    if !same_target(text("htu")?, request.url) {
        return Err(ProofRejection::WrongUrl);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or(ProofRejection::MissingClaim("iat"))?;
    // A little ahead is a clock apart; far ahead, or older than `max_age`, is stale.
    let ahead = Duration::from_secs(5).min(max_age).as_secs();
    if iat > request.now.saturating_add(ahead)
        || iat.saturating_add(max_age.as_secs()) < request.now
    {
        return Err(ProofRejection::Stale);
    }
    let ath = B64.encode(super::super::keys::sha256(request.access_token.as_bytes()));
    if text("ath")? != ath {
        return Err(ProofRejection::WrongToken);
    }
    let jkt = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|_| ProofRejection::KeyMismatch)?;
    Ok(CheckedProof {
        jkt,
        jti: jti.to_owned(),
        iat,
    })
}

fn is_asymmetric(alg: Algorithm) -> bool {
    !matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// The key's type is the algorithm's: an RSA key for RS/PS, an EC key for ES, an
/// OKP key for EdDSA (no algorithm confusion through the header's own key).
fn fits(key: &AlgorithmParameters, alg: Algorithm) -> bool {
    use Algorithm::*;
    match key {
        AlgorithmParameters::RSA(_) => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
        AlgorithmParameters::EllipticCurve(_) => matches!(alg, ES256 | ES384),
        AlgorithmParameters::OctetKeyPair(_) => matches!(alg, EdDSA),
        _ => false,
    }
}

/// RFC 9449 §4.3: `htu` is the request's URI without query and fragment,
/// compared after syntax-based normalisation (case of scheme and host, default
/// port, dot segments: what URL parsing does).
fn same_target(htu: &str, expected: &url::Url) -> bool {
    let Ok(mut htu) = url::Url::parse(htu) else {
        return false;
    };
    htu.set_query(None);
    htu.set_fragment(None);
    let mut expected = expected.clone();
    expected.set_query(None);
    expected.set_fragment(None);
    htu == expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A proof with `header` and empty claims; the signature is never reached.
    fn unsigned(header: Value) -> String {
        format!("{}.e30.c2ln", B64.encode(header.to_string()))
    }

    fn refusal(proof: &str) -> ProofRejection {
        let url = url::Url::parse("https://mcp.example.com/mcp").unwrap();
        let request = Request {
            method: "POST",
            url: &url,
            access_token: "t",
            now: 1_800_000_000,
        };
        check(
            proof,
            &request,
            &[Algorithm::ES256, Algorithm::RS256],
            Duration::from_secs(60),
        )
        .unwrap_err()
    }

    fn ec_jwk() -> Value {
        json!({
            "kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        })
    }

    #[test]
    fn proofs_are_refused_before_any_signature_check_for_what_they_say() {
        let private = {
            let mut k = ec_jwk();
            k["d"] = json!("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI");
            k
        };
        let rsa_private = json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "p": "x", "q": "y"});
        let cases = [
            ("a.b", ProofRejection::Malformed),
            ("not-base64!.e30.c2ln", ProofRejection::Malformed),
            (
                &unsigned(json!({"typ": "JWT", "alg": "ES256", "jwk": ec_jwk()})),
                ProofRejection::WrongType,
            ),
            (
                &unsigned(json!({"alg": "ES256", "jwk": ec_jwk()})),
                ProofRejection::WrongType,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "none", "jwk": ec_jwk()})),
                ProofRejection::AlgorithmNotAllowed,
            ),
            (
                &unsigned(
                    json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
                ),
                ProofRejection::AlgorithmNotAllowed,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "ES384", "jwk": ec_jwk()})),
                ProofRejection::AlgorithmNotAllowed,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "ES256"})),
                ProofRejection::MissingKey,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private})),
                ProofRejection::PrivateKey,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": rsa_private})),
                ProofRejection::PrivateKey,
            ),
            (
                &unsigned(json!({"typ": "dpop+jwt", "alg": "RS256", "jwk": ec_jwk()})),
                ProofRejection::KeyMismatch,
            ),
        ];
        for (proof, expected) in cases {
            assert_eq!(refusal(proof), expected, "{proof}");
        }
        let huge = unsigned(json!({"typ": "dpop+jwt", "pad": "x".repeat(MAX_PROOF_BYTES)}));
        assert_eq!(refusal(&huge), ProofRejection::TooLarge);
    }

    #[test]
    fn htu_is_compared_without_query_or_fragment_after_normalisation() {
        let url = url::Url::parse("https://mcp.example.com/mcp").unwrap();
        assert!(same_target("https://mcp.example.com/mcp", &url));
        assert!(same_target("HTTPS://MCP.example.com:443/mcp?x=1#f", &url));
        assert!(same_target("https://mcp.example.com/a/../mcp", &url));
        assert!(!same_target("https://mcp.example.com/mcp/", &url));
        assert!(!same_target("http://mcp.example.com/mcp", &url));
        assert!(!same_target("https://evil.example.com/mcp", &url));
        assert!(!same_target("/mcp", &url));
    }
}
