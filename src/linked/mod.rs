//! Linked Box accounts: a user's own Box account, linked to their sign-in at the
//! IdP, fetched from the IdP by token exchange (`box.per_user_token = "linked"`).
//!
//! The user links Box at the IdP once (Keycloak identity brokering with *Store
//! tokens*, or Auth0 Token Vault); the IdP keeps Box's refresh token and renews
//! the access token. For a tool call, box-mcp presents the caller's own access
//! token to the IdP ([`keycloak`], [`auth0`]) and gets the current Box access
//! token, which the broker caches per caller and downscopes per call as it does
//! every parent token. The caller's token goes to the IdP only, never to Box; the
//! Box token never reaches the MCP client, a log line or a tool result; and Box's
//! refresh token is never used here, so it is spent only by the IdP that holds it
//! (Box rotates refresh tokens: a second user of one would break the link).

mod auth0;
mod config;
mod error;
mod keycloak;

use std::time::Duration;

use reqwest::{
    StatusCode,
    header::{ACCEPT, CONTENT_TYPE},
};
use secrecy::SecretString;
use url::{Url, form_urlencoded};

pub use auth0::{GRANT as AUTH0_TOKEN_VAULT_GRANT, REQUESTED_TOKEN_TYPE as AUTH0_TOKEN_VAULT_TYPE};
pub use config::{LinkedConfig, LinkedPlan, LinkedProvider};
pub use error::LinkError;

use crate::{
    outbound::{self, Answer, Exchange, Exhausted, error_chain},
    remote_error::parse_error_body,
    retry::RetryPolicy,
};

/// Largest IdP answer read; a stored token answer is about 2 KiB.
const MAX_IDP_BYTES: usize = 64 * 1024;

/// A Box access token from the caller's linked account. `Debug` shows no token.
pub struct FetchedToken {
    pub token: SecretString,
    /// Zero when the IdP did not say.
    pub expires_in: Duration,
}

impl std::fmt::Debug for FetchedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedToken")
            .field("token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Fetches callers' linked Box tokens from the IdP. Cheap to clone.
#[derive(Clone)]
pub struct LinkedAccounts {
    http: IdpClient,
    plan: LinkedPlan,
}

impl LinkedAccounts {
    pub fn new(plan: LinkedPlan, retry: RetryPolicy) -> Result<Self, LinkError> {
        Ok(Self {
            http: IdpClient::new(retry, plan.timeout)?,
            plan,
        })
    }

    /// The caller's current Box access token, from their own IdP access token.
    pub async fn fetch(&self, caller_token: &SecretString) -> Result<FetchedToken, LinkError> {
        match self.plan.provider {
            LinkedProvider::Keycloak => keycloak::fetch(&self.http, &self.plan, caller_token).await,
            LinkedProvider::Auth0 => auth0::fetch(&self.http, &self.plan, caller_token).await,
        }
    }

    /// Longest time a fetched token is reused.
    pub fn cache_ttl(&self) -> Duration {
        self.plan.cache_ttl
    }

    /// The error for a linked token that Box itself refused (revoked at Box).
    pub fn refused_by_box(&self, detail: impl Into<String>) -> LinkError {
        LinkError::Broken {
            link_url: self.plan.link_url.clone(),
            detail: detail.into(),
        }
    }

    pub fn provider(&self) -> LinkedProvider {
        self.plan.provider
    }
}

/// The IdP side of [`crate::outbound`]: form POSTs and bearer GETs, retried on
/// transient failures; any other answer is returned for the provider to read.
#[derive(Clone)]
struct IdpClient {
    http: reqwest::Client,
    retry: RetryPolicy,
    timeout: Duration,
}

impl IdpClient {
    fn new(retry: RetryPolicy, timeout: Duration) -> Result<Self, LinkError> {
        let http = outbound::client(timeout)
            .map_err(|e| LinkError::Refused(format!("HTTP client: {}", error_chain(&e))))?;
        Ok(Self {
            http,
            retry,
            timeout,
        })
    }

    /// A form POST; `secrets` (the tokens and client secret in `fields`) are
    /// redacted from any text the IdP sends back.
    async fn post_form(
        &self,
        what: &'static str,
        url: &Url,
        fields: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<Answer, LinkError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(what, secrets, outbound::is_transient, || {
            self.http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone())
        })
        .await
    }

    /// A GET with a bearer token; `transient` says which statuses are retried.
    async fn get_bearer(
        &self,
        what: &'static str,
        url: &Url,
        bearer: &str,
        transient: fn(StatusCode) -> bool,
    ) -> Result<Answer, LinkError> {
        self.send(what, &[bearer], transient, || {
            self.http.get(url.clone()).bearer_auth(bearer)
        })
        .await
    }

    async fn send(
        &self,
        what: &'static str,
        secrets: &[&str],
        transient: fn(StatusCode) -> bool,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Answer, LinkError> {
        let failure_code = |body: &[u8]| parse_error_body(body, secrets, "").0;
        let exchange = Exchange {
            what,
            upstream: outbound::Upstream::Idp(what),
            retry: &self.retry,
            timeout: self.timeout,
            max_bytes: MAX_IDP_BYTES,
            failure_code: &failure_code,
            transient,
        };
        let answer = outbound::send(&exchange, || {
            Ok::<_, LinkError>(build().header(ACCEPT, "application/json"))
        })
        .await?;
        answer.map_err(|Exhausted { reason, .. }| LinkError::Unavailable(reason))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, LinkError> {
    serde_json::from_slice(body).map_err(|e| {
        LinkError::InvalidResponse(format!(
            "{what}: {:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// `error: error_description` of an OAuth error answer, scrubbed of `secrets` and
/// bounded ([`crate::remote_error`]); empty when the body names no error. Never
/// the body itself (it could echo what was sent).
fn oauth_error(body: &[u8], secrets: &[&str]) -> String {
    match parse_error_body(body, secrets, "") {
        (code, _) if code.is_empty() => String::new(),
        (code, description) => format!("{code}: {description}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idp_errors_are_read_shortened_scrubbed_and_never_raw() {
        assert_eq!(
            oauth_error(
                br#"{"error":"invalid_grant","error_description":"bad"}"#,
                &[]
            ),
            "invalid_grant: bad"
        );
        assert_eq!(oauth_error(b"<html>token=abc</html>", &[]), "");
        // An IdP that echoes the subject token gets it redacted.
        assert_eq!(
            oauth_error(
                br#"{"error":"invalid_token","error_description":"token eyJ.secret.sig is bad"}"#,
                &["eyJ.secret.sig"]
            ),
            "invalid_token: token [redacted] is bad"
        );
        // Bounded by the shared limit of remote text (plus the `x: ` and the `…`).
        let long = format!(
            r#"{{"error":"x","error_description":"{}"}}"#,
            "a".repeat(500)
        );
        let text = oauth_error(long.as_bytes(), &[]);
        assert!(
            text.chars().count() <= crate::remote_error::MAX_REMOTE_TEXT + 4,
            "{text}"
        );
    }
}
