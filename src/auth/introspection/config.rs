//! `[auth.introspection]`: RFC 7662 token introspection at the IdP.

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::setting::{InvalidSetting, check_http_url, check_transport, secret_string};

/// How box-mcp authenticates to the introspection endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded id and secret.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntrospectionConfig {
    /// Introspect tokens that are not JWTs (opaque tokens) at the IdP.
    pub enabled: bool,
    /// Introspect JWTs as well, so that a revoked session's tokens are refused
    /// within `cache_ttl` rather than at `exp`. The claims then come from the
    /// introspection answer (Keycloak's lightweight access tokens carry none).
    pub introspect_jwts: bool,
    /// The endpoint; by default the discovery document's `introspection_endpoint`.
    pub endpoint: Option<String>,
    /// box-mcp's own confidential client at the IdP.
    pub client_id: Option<String>,
    #[serde(
        deserialize_with = "secret_string::optional",
        serialize_with = "secret_string::serialize_redacted"
    )]
    pub client_secret: Option<SecretString>,
    pub client_auth: ClientAuth,
    /// How long an answer is trusted: the bound on how late a revocation is seen.
    /// Never past the token's own `exp`.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// Answers cached at once.
    pub cache_capacity: u64,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            introspect_jwts: false,
            endpoint: None,
            client_id: None,
            client_secret: None,
            client_auth: ClientAuth::default(),
            cache_ttl: Duration::from_secs(10),
            cache_capacity: 100_000,
        }
    }
}

impl IntrospectionConfig {
    pub fn validate(&self, insecure_http: (&'static str, bool)) -> Result<(), InvalidSetting> {
        if !self.enabled {
            if self.introspect_jwts {
                return Err(InvalidSetting::new(
                    "auth.introspection.introspect_jwts",
                    "needs auth.introspection.enabled = true",
                ));
            }
            return Ok(());
        }
        if let Some(endpoint) = &self.endpoint {
            let url = Url::parse(endpoint)
                .map_err(|e| InvalidSetting::new("auth.introspection.endpoint", e))?;
            check_http_url(&url, "auth.introspection.endpoint")?;
            check_transport(&url, "auth.introspection.endpoint", insecure_http)?;
        }
        if self.client_id.as_deref().is_none_or(str::is_empty) {
            return Err(InvalidSetting::new(
                "auth.introspection.client_id",
                "is required with auth.introspection.enabled: box-mcp's confidential client at the IdP",
            ));
        }
        if self.client_secret.is_none() {
            return Err(InvalidSetting::new(
                "auth.introspection.client_secret",
                "is required with auth.introspection.enabled (set BOX_MCP_AUTH__INTROSPECTION__CLIENT_SECRET)",
            ));
        }
        if self.cache_ttl > Duration::from_secs(300) {
            return Err(InvalidSetting::new(
                "auth.introspection.cache_ttl",
                "must be at most 5 minutes: it is how late a revocation may be seen",
            ));
        }
        if self.cache_capacity == 0 {
            return Err(InvalidSetting::new(
                "auth.introspection.cache_capacity",
                "must be above zero",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> IntrospectionConfig {
        IntrospectionConfig {
            enabled: true,
            client_id: Some("box-mcp".into()),
            client_secret: Some("s".to_string().into()),
            ..IntrospectionConfig::default()
        }
    }

    const STRICT: (&str, bool) = ("allow_insecure_http", false);

    #[test]
    fn off_by_default_and_complete_when_on() {
        IntrospectionConfig::default().validate(STRICT).unwrap();
        enabled().validate(STRICT).unwrap();
    }

    #[test]
    fn refuses_what_cannot_work() {
        let cases = [
            (
                IntrospectionConfig {
                    introspect_jwts: true,
                    ..IntrospectionConfig::default()
                },
                "auth.introspection.introspect_jwts",
            ),
            (
                IntrospectionConfig {
                    client_id: None,
                    ..enabled()
                },
                "auth.introspection.client_id",
            ),
            (
                IntrospectionConfig {
                    client_secret: None,
                    ..enabled()
                },
                "auth.introspection.client_secret",
            ),
            (
                IntrospectionConfig {
                    endpoint: Some("http://idp.example.com/introspect".into()),
                    ..enabled()
                },
                "auth.introspection.endpoint",
            ),
            (
                IntrospectionConfig {
                    cache_ttl: Duration::from_secs(3600),
                    ..enabled()
                },
                "auth.introspection.cache_ttl",
            ),
        ];
        for (config, key) in cases {
            let error = config.validate(STRICT).unwrap_err();
            assert_eq!(error.key, key, "{error}");
        }
    }
}
