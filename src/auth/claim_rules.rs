//! The rules every token's claims are held to, wherever the claims come from (a
//! verified JWT, an introspection answer): exact issuer, sane dates, audience,
//! and a key binding box-mcp can check.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::TokenRejection;

/// The last second a NumericDate may name: 9999-12-31T23:59:59Z. No IdP issues
/// dates beyond it, and every sum with a leeway stays far from overflow.
const LAST_NUMERIC_DATE: u64 = 253_402_300_799;

/// The registered claims jsonwebtoken leaves to us, checked exactly: `iss` is a
/// string equal to the issuer (not an array that contains it), `exp` is a sane
/// NumericDate, and `iat`, when present, is not in the future. Returns `exp`.
pub(crate) fn registered_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    now: u64,
    leeway: u64,
) -> Result<u64, TokenRejection> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(TokenRejection::WrongIssuer);
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .filter(|exp| *exp <= LAST_NUMERIC_DATE)
        .ok_or(TokenRejection::InvalidClaim("exp"))?;
    if let Some(iat) = claims.get("iat") {
        let iat = iat
            .as_u64()
            .filter(|iat| *iat <= LAST_NUMERIC_DATE)
            .ok_or(TokenRejection::InvalidClaim("iat"))?;
        if iat > now.saturating_add(leeway) {
            return Err(TokenRejection::IssuedInTheFuture);
        }
    }
    Ok(exp)
}

/// The claims every JWT access token must carry besides `exp` (which jsonwebtoken
/// requires), checked in this order so that a token lacking several is always
/// refused for the same one. jsonwebtoken checks its required set in hash order,
/// so it is given `exp` alone and the rest are checked here.
const REQUIRED_CLAIMS: [&str; 3] = ["iss", "aud", "sub"];

/// Each of [`REQUIRED_CLAIMS`] is present, the first missing one named; and
/// `aud` is a string or an array of strings. Its type matters here: jsonwebtoken
/// skips its audience check when `aud` does not parse, which only its required
/// set used to catch. (`iss` is held to exactly the issuer by
/// [`registered_claims`], `sub` to a string by the principal.)
pub(crate) fn check_required_claims(claims: &Map<String, Value>) -> Result<(), TokenRejection> {
    if let Some(missing) = REQUIRED_CLAIMS
        .into_iter()
        .find(|c| !claims.contains_key(*c))
    {
        return Err(TokenRejection::MissingClaim(missing));
    }
    match &claims["aud"] {
        Value::String(_) => Ok(()),
        Value::Array(values) if values.iter().all(Value::is_string) => Ok(()),
        _ => Err(TokenRejection::InvalidClaim("aud")),
    }
}

/// `aud` (a string or an array of strings) names one of `audiences`: for claims
/// that did not come through jsonwebtoken's validation (introspection answers).
pub(crate) fn check_audience(
    claims: &Map<String, Value>,
    audiences: &[String],
) -> Result<(), TokenRejection> {
    let matches = |v: &Value| v.as_str().is_some_and(|a| audiences.iter().any(|x| x == a));
    let ok = match claims.get("aud") {
        Some(Value::Array(values)) => values.iter().any(matches),
        Some(single) => matches(single),
        None => false,
    };
    ok.then_some(()).ok_or(TokenRejection::WrongAudience)
}

/// A token bound to a key (RFC 7800 `cnf`) is worth nothing without proof of
/// that key. The one binding box-mcp can check is DPoP's `jkt` (RFC 9449 §6),
/// which the principal keeps ([`Principal::bound_key`]) for the authentication
/// layer. A `cnf` without `jkt`, or one that also names a binding box-mcp cannot
/// check (a certificate's `x5t#S256`, RFC 8705, or RFC 7800's own members), is
/// refused here. Other members are annotations (Keycloak adds `kc-jkt-type`).
pub(crate) fn check_key_binding(claims: &Map<String, Value>) -> Result<(), TokenRejection> {
    const UNCHECKED_BINDINGS: &[&str] = &["x5t#S256", "jwk", "jwe", "jku", "kid"];
    let Some(cnf) = claims.get("cnf") else {
        return Ok(());
    };
    let checkable = cnf.as_object().is_some_and(|cnf| {
        cnf.get("jkt")
            .and_then(Value::as_str)
            .is_some_and(|jkt| !jkt.is_empty())
            && !UNCHECKED_BINDINGS.iter().any(|m| cnf.contains_key(*m))
    });
    checkable
        .then_some(())
        .ok_or(TokenRejection::SenderConstrained)
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_missing_required_claim_is_named_whatever_else_is_missing() {
        let claims = |v: Value| v.as_object().unwrap().clone();
        let none = claims(json!({"exp": 1}));
        assert!(matches!(
            check_required_claims(&none),
            Err(TokenRejection::MissingClaim("iss"))
        ));
        let no_aud_no_sub = claims(json!({"exp": 1, "iss": "i"}));
        for _ in 0..32 {
            assert!(matches!(
                check_required_claims(&no_aud_no_sub),
                Err(TokenRejection::MissingClaim("aud"))
            ));
        }
        let no_sub = claims(json!({"exp": 1, "iss": "i", "aud": "a"}));
        assert!(matches!(
            check_required_claims(&no_sub),
            Err(TokenRejection::MissingClaim("sub"))
        ));
        let all = claims(json!({"exp": 1, "iss": "i", "aud": "a", "sub": "s"}));
        assert!(check_required_claims(&all).is_ok());
        let audiences = claims(json!({"exp": 1, "iss": "i", "aud": ["a", "b"], "sub": "s"}));
        assert!(check_required_claims(&audiences).is_ok());
    }

    #[test]
    fn an_audience_that_is_not_strings_is_malformed() {
        for value in [json!(5), json!(["a", 5]), json!({"a": 1}), json!(null)] {
            let claims = json!({"exp": 1, "iss": "i", "aud": value, "sub": "s"});
            let rejection = check_required_claims(claims.as_object().unwrap());
            assert!(
                matches!(rejection, Err(TokenRejection::InvalidClaim("aud"))),
                "{value}: {rejection:?}"
            );
        }
    }
}
