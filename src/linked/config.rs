//! `[box.linked]`: where box-mcp fetches a caller's linked Box account
//! (`box.per_user_token = "linked"`). Checked and resolved into a [`LinkedPlan`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::setting::{InvalidSetting, check_http_url, check_transport, id_string, secret_string};

/// Which IdP holds the linked accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkedProvider {
    /// Keycloak identity brokering with *Store tokens*: a standard token exchange
    /// of the caller's token for one issued to box-mcp, then the stored Box token
    /// from `GET {issuer}/broker/{alias}/token` (Keycloak refreshes it at Box).
    Keycloak,
    /// Auth0 Token Vault: the federated connection access token exchange.
    Auth0,
}

/// `[box.linked]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkedConfig {
    pub provider: LinkedProvider,
    /// box-mcp's own confidential client at the IdP (Keycloak: `box-mcp`; Auth0:
    /// the Custom API Client of the MCP API).
    #[serde(deserialize_with = "id_string::optional")]
    pub client_id: Option<String>,
    #[serde(
        serialize_with = "secret_string::serialize_redacted",
        deserialize_with = "secret_string::optional"
    )]
    pub client_secret: Option<SecretString>,
    /// Keycloak: the alias of the Box identity provider. Auth0: the connection name.
    pub connection: String,
    /// The IdP's token endpoint. Default: from `auth.issuer`
    /// (`{issuer}/protocol/openid-connect/token`, Auth0 `{issuer}oauth/token`).
    pub token_url: Option<String>,
    /// Keycloak: where the stored Box token is read. Default
    /// `{issuer}/broker/{connection}/token`.
    pub broker_token_url: Option<String>,
    /// The page where a user links their Box account, given to them when the link
    /// is missing. Keycloak default: Keycloak's own linking action
    /// (`kc_action=idp_link:{connection}`), ending in the account console.
    /// Required for Auth0.
    pub link_url: Option<String>,
    /// Longest time a Box token fetched from the IdP is reused. Bounds how long
    /// a removed link goes unnoticed (a Box refusal is noticed at once).
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Timeout of each call to the IdP.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for LinkedConfig {
    fn default() -> Self {
        Self {
            provider: LinkedProvider::Keycloak,
            client_id: None,
            client_secret: None,
            connection: "box".into(),
            token_url: None,
            broker_token_url: None,
            link_url: None,
            cache_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
        }
    }
}

/// A checked `[box.linked]`.
#[derive(Debug, Clone)]
pub struct LinkedPlan {
    pub provider: LinkedProvider,
    pub client_id: String,
    pub client_secret: SecretString,
    pub connection: String,
    pub token_url: Url,
    /// Keycloak only.
    pub broker_token_url: Option<Url>,
    pub link_url: String,
    pub cache_ttl: Duration,
    pub timeout: Duration,
}

/// Any 43 characters of PKCE's alphabet: the account console insists on a
/// challenge, and box-mcp never redeems the code the link flow ends with.
const UNUSED_PKCE_CHALLENGE: &str = "box-mcp-never-redeems-this-code-0123456789a";

fn url(key: &'static str, value: &str, allow_http: bool) -> Result<Url, InvalidSetting> {
    let url = Url::parse(value).map_err(|e| InvalidSetting::new(key, e))?;
    check_http_url(&url, key)?;
    check_transport(&url, key, ("box.allow_insecure_http", allow_http))?;
    Ok(url)
}

impl LinkedConfig {
    /// Checks `[box.linked]`; `issuer` (`auth.issuer`) supplies the default URLs.
    /// Plain http is allowed as for Box's own URLs (`box.allow_insecure_http`).
    pub fn resolve(
        &self,
        issuer: Option<&str>,
        allow_http: bool,
    ) -> Result<LinkedPlan, InvalidSetting> {
        let required = |key: &'static str| {
            InvalidSetting::new(key, "is required when box.per_user_token = \"linked\"")
        };
        let client_id = self
            .client_id
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| required("box.linked.client_id"))?;
        let client_secret = self
            .client_secret
            .clone()
            .filter(|s| !s.expose_secret().is_empty())
            .ok_or_else(|| required("box.linked.client_secret"))?;
        let connection = self.connection.trim().to_string();
        if connection.is_empty()
            || !connection
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(InvalidSetting::new(
                "box.linked.connection",
                "must be an identity provider alias or connection name (letters, digits, - _ .)",
            ));
        }
        let issuer = issuer
            .map(|i| i.trim_end_matches('/'))
            .filter(|i| !i.is_empty());
        let derived = |key: &'static str, suffix: &str| -> Result<Url, InvalidSetting> {
            let issuer = issuer.ok_or_else(|| {
                InvalidSetting::new(
                    key,
                    "is required (there is no auth.issuer to derive it from)",
                )
            })?;
            url(key, &format!("{issuer}{suffix}"), allow_http)
        };
        let token_url = match (&self.token_url, self.provider) {
            (Some(u), _) => url("box.linked.token_url", u, allow_http)?,
            (None, LinkedProvider::Keycloak) => {
                derived("box.linked.token_url", "/protocol/openid-connect/token")?
            }
            (None, LinkedProvider::Auth0) => derived("box.linked.token_url", "/oauth/token")?,
        };
        let (broker_token_url, link_url) = match self.provider {
            LinkedProvider::Keycloak => {
                let broker = match &self.broker_token_url {
                    Some(u) => url("box.linked.broker_token_url", u, allow_http)?,
                    None => derived(
                        "box.linked.broker_token_url",
                        &format!("/broker/{connection}/token"),
                    )?,
                };
                let link = match &self.link_url {
                    Some(u) => url("box.linked.link_url", u, allow_http)?,
                    None => {
                        let mut link =
                            derived("box.linked.link_url", "/protocol/openid-connect/auth")?;
                        let account = format!("{}/account/", issuer.unwrap_or_default());
                        link.query_pairs_mut()
                            .append_pair("client_id", "account-console")
                            .append_pair("redirect_uri", &account)
                            .append_pair("response_type", "code")
                            .append_pair("scope", "openid")
                            .append_pair("code_challenge", UNUSED_PKCE_CHALLENGE)
                            .append_pair("code_challenge_method", "S256")
                            .append_pair("kc_action", &format!("idp_link:{connection}"));
                        link
                    }
                };
                (Some(broker), link)
            }
            LinkedProvider::Auth0 => {
                if self.broker_token_url.is_some() {
                    return Err(InvalidSetting::new(
                        "box.linked.broker_token_url",
                        "is for box.linked.provider = \"keycloak\" only",
                    ));
                }
                let link = self
                    .link_url
                    .as_deref()
                    .ok_or_else(|| {
                        InvalidSetting::new(
                            "box.linked.link_url",
                            "is required when box.linked.provider = \"auth0\" (the page of your application where users connect their Box account)",
                        )
                    })
                    .and_then(|u| url("box.linked.link_url", u, allow_http))?;
                (None, link)
            }
        };
        if self.cache_ttl < Duration::from_secs(1) || self.cache_ttl > Duration::from_secs(3600) {
            return Err(InvalidSetting::new(
                "box.linked.cache_ttl",
                "must be between 1s and 1h",
            ));
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(300) {
            return Err(InvalidSetting::new(
                "box.linked.timeout",
                "must be between 1ms and 5m",
            ));
        }
        Ok(LinkedPlan {
            provider: self.provider,
            client_id,
            client_secret,
            connection,
            token_url,
            broker_token_url,
            link_url: link_url.to_string(),
            cache_ttl: self.cache_ttl,
            timeout: self.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keycloak() -> LinkedConfig {
        LinkedConfig {
            client_id: Some("box-mcp".into()),
            client_secret: Some("s".to_string().into()),
            ..LinkedConfig::default()
        }
    }

    #[test]
    fn keycloak_urls_come_from_the_issuer() {
        let plan = keycloak()
            .resolve(Some("http://127.0.0.1:8080/realms/box-mcp"), false)
            .unwrap();
        assert_eq!(
            plan.token_url.as_str(),
            "http://127.0.0.1:8080/realms/box-mcp/protocol/openid-connect/token"
        );
        assert_eq!(
            plan.broker_token_url.unwrap().as_str(),
            "http://127.0.0.1:8080/realms/box-mcp/broker/box/token"
        );
        let link = Url::parse(&plan.link_url).unwrap();
        let pairs: Vec<(String, String)> = link.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("kc_action".into(), "idp_link:box".into())));
        assert!(pairs.contains(&(
            "redirect_uri".into(),
            "http://127.0.0.1:8080/realms/box-mcp/account/".into()
        )));
    }

    #[test]
    fn missing_or_bad_values_name_their_key() {
        let key = |c: LinkedConfig, issuer: Option<&str>| c.resolve(issuer, false).unwrap_err().key;
        let mut c = keycloak();
        c.client_secret = None;
        assert_eq!(key(c, Some("https://idp")), "box.linked.client_secret");
        assert_eq!(key(keycloak(), None), "box.linked.token_url");
        let mut c = keycloak();
        c.connection = "box/../x".into();
        assert_eq!(key(c, Some("https://idp")), "box.linked.connection");
        let mut c = keycloak();
        c.provider = LinkedProvider::Auth0;
        assert_eq!(key(c, Some("https://t.auth0.com/")), "box.linked.link_url");
        let mut c = keycloak();
        c.cache_ttl = Duration::ZERO;
        assert_eq!(key(c, Some("https://idp")), "box.linked.cache_ttl");
        let mut c = keycloak();
        c.link_url = Some("javascript:alert(1)".into());
        assert_eq!(key(c, Some("https://idp")), "box.linked.link_url");
    }

    #[test]
    fn auth0_token_url_keeps_the_issuers_trailing_slash_once() {
        let mut c = keycloak();
        c.provider = LinkedProvider::Auth0;
        c.link_url = Some("https://app.example.com/connect/box".into());
        let plan = c.resolve(Some("https://tenant.auth0.com/"), false).unwrap();
        assert_eq!(
            plan.token_url.as_str(),
            "https://tenant.auth0.com/oauth/token"
        );
        assert!(plan.broker_token_url.is_none());
    }
}
