//! Auth0 Token Vault: the caller's Box token for the `box` connection, by the
//! federated connection access token exchange at `/oauth/token`. Auth0 keeps the
//! Box refresh token and renews the access token itself; box-mcp never sees the
//! refresh token.
//!
//! There is no Auth0 tenant here: this follows Auth0's documented grant, and the
//! tests run it against an Auth0-shaped endpoint in the harness. The error codes
//! read below are Auth0's documented ones; any other refusal is reported as such.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{FetchedToken, IdpClient, LinkError, config::LinkedPlan};
use crate::remote_error::parse_error_body;

pub const GRANT: &str =
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const REQUESTED_TOKEN_TYPE: &str =
    "http://auth0.com/oauth/token-type/federated-connection-access-token";

#[derive(Deserialize)]
struct Answer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

pub(super) async fn fetch(
    http: &IdpClient,
    plan: &LinkedPlan,
    caller_token: &SecretString,
) -> Result<FetchedToken, LinkError> {
    let (subject, secret) = (
        caller_token.expose_secret(),
        plan.client_secret.expose_secret(),
    );
    let secrets = [subject, secret];
    let answer = http
        .post_form(
            "Token Vault exchange",
            &plan.token_url,
            &[
                ("grant_type", GRANT),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN),
                ("requested_token_type", REQUESTED_TOKEN_TYPE),
                ("connection", &plan.connection),
                ("client_id", &plan.client_id),
                ("client_secret", secret),
            ],
            &secrets,
        )
        .await?;
    if answer.status.is_success() {
        let t: Answer = super::parse(&answer.body, "Token Vault exchange")?;
        if t.access_token.is_empty() {
            return Err(LinkError::InvalidResponse("an empty access token".into()));
        }
        return Ok(FetchedToken {
            token: SecretString::from(t.access_token),
            expires_in: Duration::from_secs(t.expires_in.unwrap_or(0)),
        });
    }
    let (code, _) = parse_error_body(&answer.body, &secrets, "");
    let detail = format!(
        "HTTP {} {}",
        answer.status.as_u16(),
        super::oauth_error(&answer.body, &secrets)
    );
    match code.as_str() {
        // The user has not connected Box (no refresh token in the vault).
        "federated_connection_refresh_token_not_found" => Err(LinkError::NotLinked {
            link_url: plan.link_url.clone(),
            detail,
        }),
        // The vault holds a refresh token that Box no longer accepts.
        "federated_connection_refresh_token_flow_failed" | "invalid_grant" => {
            Err(LinkError::Broken {
                link_url: plan.link_url.clone(),
                detail,
            })
        }
        // Client credentials, grant not enabled for the client, a bad subject token.
        _ => Err(LinkError::Refused(detail)),
    }
}
