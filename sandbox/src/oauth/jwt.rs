//! JWT bearer grant: an RS256/384/512 assertion signed with the app's private key,
//! checked against the public key named by `kid`, with `iss`, `aud`, `exp` (at most
//! 60 s ahead) and a `jti` that may not be reused.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Validation, decode, decode_header, errors::ErrorKind};
use serde::Deserialize;

use super::{Form, Issued, OAuthError, authenticate, issue_parent, resolve_subject};
use crate::{request_log::OAuthInfo, seed::AppAuth, state::AppState};

/// The audience Box requires. The sandbox's own token URL is accepted too.
pub const BOX_TOKEN_AUDIENCE: &str = "https://api.box.com/oauth2/token";
/// Longest lifetime of an assertion.
const MAX_LIFETIME_SECS: u64 = 60;

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    box_sub_type: Option<String>,
    jti: Option<String>,
    exp: u64,
}

fn check(what: &str) -> OAuthError {
    OAuthError::invalid_grant(format!("Please check the '{what}' claim"))
}

fn jwt_error(kind: &ErrorKind) -> OAuthError {
    match kind {
        ErrorKind::InvalidSignature => OAuthError::invalid_grant("Signature verification error"),
        ErrorKind::ExpiredSignature => check("exp"),
        ErrorKind::InvalidAudience => check("aud"),
        ErrorKind::InvalidIssuer => check("iss"),
        ErrorKind::MissingRequiredClaim(c) => check(c),
        ErrorKind::InvalidAlgorithm => OAuthError::invalid_grant("Please check the 'alg' header"),
        _ => OAuthError::invalid_grant("Invalid assertion"),
    }
}

pub fn grant(state: &AppState, form: &Form, info: &mut OAuthInfo) -> Result<Issued, OAuthError> {
    let assertion = form.require("assertion")?;
    let store = state.store();
    let app = authenticate(&store, form, AppAuth::Jwt)?;
    let header =
        decode_header(assertion).map_err(|_| OAuthError::invalid_grant("Invalid assertion"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err(OAuthError::invalid_grant("Please check the 'alg' header"));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_grant("Please check the 'kid' header"))?;
    let (_, key) = app
        .keys
        .iter()
        .find(|(k, _)| k == kid)
        .ok_or_else(|| OAuthError::invalid_grant("Please check the 'kid' header"))?;
    let mut validation = Validation::new(header.alg);
    let own_audience = format!("{}/oauth2/token", state.base_url);
    validation.set_audience(&[BOX_TOKEN_AUDIENCE, own_audience.as_str()]);
    validation.set_issuer(&[app.client_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 0;
    let claims = decode::<Claims>(assertion, key, &validation)
        .map_err(|e| jwt_error(e.kind()))?
        .claims;
    info.box_subject_type = claims.box_sub_type.clone();
    info.box_subject_id = Some(claims.sub.clone());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if claims.exp > now + MAX_LIFETIME_SECS {
        return Err(check("exp"));
    }
    let jti = claims.jti.as_deref().unwrap_or("");
    if !(16..=128).contains(&jti.chars().count()) {
        return Err(check("jti"));
    }
    let subject = resolve_subject(
        &store,
        &app,
        claims.box_sub_type.as_deref(),
        Some(claims.sub.as_str()),
    )?;
    drop(store);
    let remember_until = Instant::now() + Duration::from_secs(claims.exp.saturating_sub(now) + 60);
    if !state.tokens().use_jti(jti, remember_until) {
        return Err(OAuthError::invalid_grant(
            "A unique 'jti' value is required",
        ));
    }
    Ok(issue_parent(state, &app, subject))
}
