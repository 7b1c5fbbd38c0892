//! The user grants of OAuth 2.0 apps: `authorization_code` (after the user's sign-in
//! and consent at `/api/oauth2/authorize`) and `refresh_token`, with Box's rotation.
//! The access token is a parent token for the user, as a CCG user token is: it works
//! on every endpoint and can be downscoped, with that user's own visibility.

use super::{Form, Issued, OAuthError, authenticate};
use crate::{
    grants::{GrantError, Redeemed},
    request_log::OAuthInfo,
    seed::AppAuth,
    state::AppState,
    tokens::{self, SubjectType, TokenKind, fingerprint},
};

/// `grant_type=authorization_code`: `code`, `client_id`, `client_secret`, and
/// `redirect_uri` when the authorization request named one.
pub fn authorization_code(
    state: &AppState,
    form: &Form,
    info: &mut OAuthInfo,
) -> Result<Issued, OAuthError> {
    let app = authenticate(&state.store(), form, AppAuth::OAuth2)?;
    let code = form.require("code")?;
    let redeemed = state.grants().redeem_code(
        code,
        &app.client_id,
        form.get("redirect_uri"),
        state.refresh_token_ttl,
    );
    issue(state, redeemed, info)
}

/// `grant_type=refresh_token`: `refresh_token`, `client_id`, `client_secret`.
pub fn refresh_token(
    state: &AppState,
    form: &Form,
    info: &mut OAuthInfo,
) -> Result<Issued, OAuthError> {
    let app = authenticate(&state.store(), form, AppAuth::OAuth2)?;
    let raw = form.require("refresh_token")?;
    info.refresh_token = Some(fingerprint(raw));
    let rotated = state
        .grants()
        .rotate(raw, &app.client_id, state.refresh_token_ttl);
    issue(state, rotated, info)
}

fn issue(
    state: &AppState,
    outcome: Result<Redeemed, (GrantError, Vec<String>)>,
    info: &mut OAuthInfo,
) -> Result<Issued, OAuthError> {
    let redeemed = match outcome {
        Ok(r) => r,
        Err((error, revoked)) => {
            // A replayed code or refresh token ended its grant: its access tokens
            // (and every token downscoped from them) die too.
            state.revoke_access_tokens(&revoked);
            return Err(OAuthError::invalid_grant(error.to_string()));
        }
    };
    let grant = redeemed.grant;
    // The user may have been removed since consent (a reset).
    if state.store().user(&grant.user).is_none() {
        return Err(OAuthError::invalid_grant("The user no longer exists"));
    }
    info.user = Some(grant.user.clone());
    let (raw, record) = state.tokens().issue(tokens::Grant {
        kind: TokenKind::Parent,
        client_id: grant.client_id.clone(),
        subject_type: SubjectType::User,
        user: grant.user.clone(),
        scopes: grant.scopes.clone(),
        restricted_to: None,
        ttl: state.token_ttl,
        parent: None,
        as_user_allowed: false,
    });
    state
        .grants()
        .record_access(grant.id, record.fingerprint.clone());
    info.issued_refresh_token = Some(fingerprint(&redeemed.refresh_token));
    Ok(Issued {
        raw,
        record,
        refresh_token: Some(redeemed.refresh_token),
    })
}
