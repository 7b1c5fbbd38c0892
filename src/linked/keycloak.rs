//! Keycloak: the caller's Box token, as Keycloak's identity brokering stored it
//! when the user linked Box (*Store tokens* on the `box` identity provider).
//!
//! 1. A standard token exchange (RFC 8693, Keycloak's V2) of the caller's token,
//!    which was issued to the MCP client, for one issued to box-mcp's own
//!    confidential client. Only that token carries `broker.read-token`: the MCP
//!    client's own tokens do not, so no MCP client can read a user's Box token.
//! 2. `GET {issuer}/broker/{alias}/token` with it. Keycloak answers the stored
//!    token and, when the Box access token is about to expire, first refreshes it
//!    at Box and stores the rotated refresh token. box-mcp reads only the access
//!    token and its expiry; the refresh token in the answer is never kept, so only
//!    Keycloak ever spends it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{FetchedToken, IdpClient, LinkError, config::LinkedPlan};
use crate::remote_error::parse_error_body;

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

#[derive(Deserialize)]
struct Exchanged {
    access_token: String,
}

/// What Keycloak stored from Box's token answer (plus its own
/// `accessTokenExpiration`). Other fields, the refresh token among them, are not read.
#[derive(Deserialize)]
struct Stored {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
    /// Unix seconds, set by Keycloak when it stored or refreshed the token.
    #[serde(default, rename = "accessTokenExpiration")]
    access_token_expiration: Option<u64>,
}

pub(super) async fn fetch(
    http: &IdpClient,
    plan: &LinkedPlan,
    caller_token: &SecretString,
) -> Result<FetchedToken, LinkError> {
    let secret = plan.client_secret.expose_secret();
    let subject = caller_token.expose_secret();
    let secrets = [subject, secret];
    let exchange = http
        .post_form(
            "token exchange for box-mcp",
            &plan.token_url,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN),
                ("requested_token_type", ACCESS_TOKEN),
                ("client_id", &plan.client_id),
                ("client_secret", secret),
            ],
            &secrets,
        )
        .await?;
    let box_mcp_token = match exchange.status {
        s if s.is_success() => {
            let t: Exchanged = super::parse(&exchange.body, "token exchange")?;
            SecretString::from(t.access_token)
        }
        StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(LinkError::Refused(format!(
                "token exchange: HTTP {} {}",
                exchange.status.as_u16(),
                super::oauth_error(&exchange.body, &secrets)
            )));
        }
        s => {
            return Err(LinkError::Refused(format!(
                "token exchange: HTTP {}",
                s.as_u16()
            )));
        }
    };

    let Some(broker_url) = &plan.broker_token_url else {
        return Err(LinkError::Refused("no box.linked.broker_token_url".into()));
    };
    // Keycloak answers 502 when it could not renew the token at Box: not retried
    // here, since Keycloak cannot say whether Box was down or the grant is gone.
    let stored = http
        .get_bearer(
            "stored Box token",
            broker_url,
            box_mcp_token.expose_secret(),
            |s| s != StatusCode::BAD_GATEWAY && crate::outbound::is_transient(s),
        )
        .await?;
    // Keycloak's broker endpoint says why in `errorMessage`.
    let secrets = [box_mcp_token.expose_secret(), subject];
    let detail = || parse_error_body(&stored.body, &secrets, "").1;
    match stored.status {
        s if s.is_success() => {
            let t: Stored = super::parse(&stored.body, "stored Box token")?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let expires_in = match (t.access_token_expiration, t.expires_in) {
                (Some(at), _) if at > 0 => Duration::from_secs(at.saturating_sub(now)),
                (_, Some(secs)) => Duration::from_secs(secs),
                _ => Duration::ZERO,
            };
            if t.access_token.is_empty() {
                return Err(LinkError::InvalidResponse(
                    "the stored Box token is empty".into(),
                ));
            }
            Ok(FetchedToken {
                token: SecretString::from(t.access_token),
                expires_in,
            })
        }
        // Not linked (400), linked without a stored token (404).
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Err(LinkError::NotLinked {
            link_url: plan.link_url.clone(),
            detail: detail(),
        }),
        // Keycloak could not refresh the stored token at Box.
        StatusCode::BAD_GATEWAY => Err(LinkError::Broken {
            link_url: plan.link_url.clone(),
            detail: format!(
                "Keycloak could not renew it at Box, which may be unavailable or may have revoked the access: {}",
                detail()
            ),
        }),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(LinkError::Refused(format!(
            "reading the stored Box token: HTTP {} (does box-mcp's token carry broker read-token?)",
            stored.status.as_u16()
        ))),
        s => Err(LinkError::Refused(format!(
            "reading the stored Box token: HTTP {}",
            s.as_u16()
        ))),
    }
}
