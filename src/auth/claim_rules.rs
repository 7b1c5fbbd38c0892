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
