//! `[auth]`, `[claims]` and `[stdio]`: whom box-mcp trusts to say who is calling,
//! where each part of the [`Principal`](super::Principal) is read from in a token,
//! and who the caller is over stdio, where there is no token.

use std::{collections::BTreeMap, net::SocketAddr, time::Duration};

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::setting::{InvalidSetting, check_http_url, check_transport, id_string, is_scope_token};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The IdP's issuer, compared byte for byte with `iss` and with the
    /// discovery document (Auth0's ends with a slash, Keycloak's does not).
    pub issuer: String,
    /// Audiences accepted besides the canonical resource URL.
    pub extra_audiences: Vec<String>,
    /// Accepted signature algorithms. Only asymmetric ones are allowed.
    pub algorithms: Vec<String>,
    /// Clock leeway for `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Scopes every MCP request must carry (403 `insufficient_scope` otherwise).
    pub required_scopes: Vec<String>,
    /// Scopes published in the metadata; defaults to the required scopes.
    pub scopes_supported: Vec<String>,
    /// Clients known to mishandle the HTTP 403 `insufficient_scope` challenge, by
    /// client id (`azp`) glob pattern (`*` matches any run of characters, `?` one).
    /// A `tools/call` from a matching client that lacks a scope gets a tool error
    /// naming the missing scopes and how to reconnect with them, instead of the 403
    /// the MCP specification asks for. Empty by default: everyone gets the 403.
    pub tool_error_on_insufficient_scope: Vec<String>,
    /// Broader scopes and the narrower ones they include, e.g.
    /// `{ "box:admin" = ["box:write", "mcp:tools"] }`: a token with a broader
    /// scope satisfies a check for a narrower one (transitively).
    pub scope_hierarchy: BTreeMap<String, Vec<String>>,
    /// Lower bound between two JWKS fetches caused by unknown `kid`s.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh_interval: Duration,
    /// Periodic JWKS refresh when the IdP sends no usable cache headers.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    /// First delay when the IdP cannot be reached at start; doubles up to the max.
    #[serde(with = "humantime_serde")]
    pub discovery_retry_initial: Duration,
    #[serde(with = "humantime_serde")]
    pub discovery_retry_max: Duration,
    /// Timeout of each call to the IdP.
    #[serde(with = "humantime_serde")]
    pub idp_timeout: Duration,
    /// Entries in the verified-token cache.
    pub token_cache_capacity: u64,
    /// Upper bound for how long a verified token stays cached (also bounded by `exp`).
    #[serde(with = "humantime_serde")]
    pub token_cache_max_ttl: Duration,
    /// RFC 7662 introspection of opaque (and optionally all) tokens.
    pub introspection: super::IntrospectionConfig,
    /// DPoP-bound tokens (RFC 9449): off, accepted or required.
    pub dpop: super::DpopConfig,
    /// BENCHMARKS ONLY: serve `/mcp` with no authentication, no scope checks and
    /// no tool policy, to measure what they cost (`loadbench/`). Refused unless
    /// the binary was built with the cargo feature `insecure-no-auth` and listens
    /// on a loopback address; a normal build cannot turn authentication off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_disabled: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080/realms/box-mcp".into(),
            extra_audiences: Vec::new(),
            algorithms: [
                "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
            ]
            .map(String::from)
            .to_vec(),
            leeway: Duration::from_secs(30),
            required_scopes: vec!["mcp:tools".into()],
            scopes_supported: Vec::new(),
            tool_error_on_insufficient_scope: Vec::new(),
            scope_hierarchy: BTreeMap::new(),
            jwks_min_refresh_interval: Duration::from_secs(10),
            jwks_refresh_interval: Duration::from_secs(300),
            discovery_retry_initial: Duration::from_millis(500),
            discovery_retry_max: Duration::from_secs(30),
            idp_timeout: Duration::from_secs(5),
            token_cache_capacity: 100_000,
            token_cache_max_ttl: Duration::from_secs(300),
            introspection: super::IntrospectionConfig::default(),
            dpop: super::DpopConfig::default(),
            insecure_disabled: false,
        }
    }
}

/// Whether this build may honour `auth.insecure_disabled` (benchmark builds only).
pub const INSECURE_NO_AUTH_BUILD: bool = cfg!(feature = "insecure-no-auth");

impl AuthConfig {
    /// Checks every `auth.*` value for a server listening on `listen`;
    /// `insecure_http` is the `allow_insecure_http` switch for the issuer's transport.
    pub fn validate(
        &self,
        listen: SocketAddr,
        insecure_http: (&'static str, bool),
    ) -> Result<(), InvalidSetting> {
        self.check_insecure_disabled(listen)?;
        let issuer = Url::parse(&self.issuer).map_err(|e| InvalidSetting::new("auth.issuer", e))?;
        check_http_url(&issuer, "auth.issuer")?;
        check_transport(&issuer, "auth.issuer", insecure_http)?;
        self.introspection.validate(insecure_http)?;
        self.dpop.validate()?;
        self.algorithms()?;
        if self.leeway > Duration::from_secs(300) {
            return Err(InvalidSetting::new(
                "auth.leeway",
                "must be at most 5 minutes",
            ));
        }
        if self.discovery_retry_initial.is_zero() {
            return Err(InvalidSetting::new(
                "auth.discovery_retry_initial",
                "must be above zero",
            ));
        }
        if self.discovery_retry_max < self.discovery_retry_initial {
            return Err(InvalidSetting::new(
                "auth.discovery_retry_max",
                "must be at least auth.discovery_retry_initial",
            ));
        }
        if self.jwks_refresh_interval < Duration::from_secs(1) {
            return Err(InvalidSetting::new(
                "auth.jwks_refresh_interval",
                "must be at least 1s",
            ));
        }
        if self.idp_timeout.is_zero() {
            return Err(InvalidSetting::new(
                "auth.idp_timeout",
                "must be above zero",
            ));
        }
        for (i, scope) in self
            .required_scopes
            .iter()
            .chain(&self.scopes_supported)
            .enumerate()
        {
            if !is_scope_token(scope) {
                return Err(InvalidSetting::new(
                    "auth.required_scopes/scopes_supported",
                    format!("entry {i} ({scope:?}) is not a valid OAuth scope"),
                ));
            }
        }
        super::ClientPatterns::new(&self.tool_error_on_insufficient_scope)?;
        for (broader, narrower) in &self.scope_hierarchy {
            if let Some(bad) = std::iter::once(broader)
                .chain(narrower)
                .find(|s| !is_scope_token(s))
            {
                return Err(InvalidSetting::new(
                    "auth.scope_hierarchy",
                    format!("{bad:?} is not a valid OAuth scope"),
                ));
            }
        }
        Ok(())
    }

    /// The accepted signature algorithms, parsed; symmetric ones are refused.
    pub fn algorithms(&self) -> Result<Vec<Algorithm>, InvalidSetting> {
        if self.algorithms.is_empty() {
            return Err(InvalidSetting::new(
                "auth.algorithms",
                "must list at least one algorithm",
            ));
        }
        self.algorithms
            .iter()
            .map(|name| {
                let alg: Algorithm = name.parse().map_err(|_| {
                    InvalidSetting::new("auth.algorithms", format!("unknown algorithm {name:?}"))
                })?;
                if alg.family() == AlgorithmFamily::Hmac {
                    return Err(InvalidSetting::new(
                        "auth.algorithms",
                        format!("{name} is symmetric; only asymmetric algorithms are accepted"),
                    ));
                }
                Ok(alg)
            })
            .collect()
    }

    /// The scopes published in the metadata: `scopes_supported`, or else the
    /// required scopes.
    pub fn scopes_supported(&self) -> Vec<String> {
        if self.scopes_supported.is_empty() {
            self.required_scopes.clone()
        } else {
            self.scopes_supported.clone()
        }
    }

    /// `auth.insecure_disabled` is for benchmarks on one machine: it needs a build
    /// made for that and a loopback listen address, so a deployment cannot switch
    /// authentication off by configuration.
    fn check_insecure_disabled(&self, listen: SocketAddr) -> Result<(), InvalidSetting> {
        if !self.insecure_disabled {
            return Ok(());
        }
        if !listen.ip().is_loopback() {
            return Err(InvalidSetting::new(
                "auth.insecure_disabled",
                "turns authentication off and is allowed only with a loopback `listen` address",
            ));
        }
        if !INSECURE_NO_AUTH_BUILD {
            return Err(InvalidSetting::new(
                "auth.insecure_disabled",
                "this build always authenticates; only a benchmark build (cargo feature \
                 `insecure-no-auth`) can turn authentication off",
            ));
        }
        Ok(())
    }
}

/// Which claim preset fills the claim paths that are not set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimPreset {
    Keycloak,
    Auth0,
    Custom,
}

/// Where each part of the [`Principal`](super::Principal) is read from in the
/// token. A path is a dot-separated walk into the claims (`realm_access.roles`);
/// a claim whose full name contains dots (Auth0's `https://example.com/roles`) is
/// matched literally first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimsConfig {
    pub preset: ClaimPreset,
    /// Keycloak client whose client roles (`resource_access.<client>.roles`) count as roles.
    pub keycloak_client: String,
    /// Auth0 namespaced claim holding roles (set by a post-login Action).
    pub auth0_roles_claim: String,
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    pub username: Option<String>,
    pub email: Option<String>,
    /// The claim that says the email was verified (`true`, or the string `"true"`);
    /// an email counts for Box user mapping only when it does.
    pub email_verified: Option<String>,
    pub client_id: Option<Vec<String>>,
    pub scope: Option<String>,
    pub box_user: Option<String>,
}

impl Default for ClaimsConfig {
    fn default() -> Self {
        Self {
            preset: ClaimPreset::Keycloak,
            keycloak_client: "box-mcp".into(),
            auth0_roles_claim: "https://box-mcp/roles".into(),
            roles: None,
            groups: None,
            username: None,
            email: None,
            email_verified: None,
            client_id: None,
            scope: None,
            box_user: None,
        }
    }
}

/// Resolved claim paths, with the preset applied.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimPaths {
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub username: Vec<String>,
    pub email: String,
    pub email_verified: String,
    pub client_id: Vec<String>,
    pub scope: Vec<String>,
    pub box_user: String,
}

impl ClaimsConfig {
    pub fn resolve(&self) -> ClaimPaths {
        let (roles, groups, username) = match self.preset {
            ClaimPreset::Keycloak => (
                vec![
                    "realm_access.roles".to_string(),
                    format!("resource_access.{}.roles", self.keycloak_client),
                ],
                vec!["groups".to_string()],
                vec!["preferred_username".to_string()],
            ),
            ClaimPreset::Auth0 => (
                vec![self.auth0_roles_claim.clone(), "permissions".to_string()],
                vec![],
                vec!["nickname".to_string(), "name".to_string()],
            ),
            ClaimPreset::Custom => (vec![], vec![], vec!["preferred_username".to_string()]),
        };
        ClaimPaths {
            roles: self.roles.clone().unwrap_or(roles),
            groups: self.groups.clone().unwrap_or(groups),
            username: self.username.clone().map(|u| vec![u]).unwrap_or(username),
            email: self.email.clone().unwrap_or_else(|| "email".into()),
            email_verified: self
                .email_verified
                .clone()
                .unwrap_or_else(|| "email_verified".into()),
            client_id: self
                .client_id
                .clone()
                .unwrap_or_else(|| vec!["azp".into(), "client_id".into()]),
            scope: self
                .scope
                .clone()
                .map(|s| vec![s])
                .unwrap_or_else(|| vec!["scope".into(), "scp".into()]),
            box_user: self
                .box_user
                .clone()
                .unwrap_or_else(|| "box_user_id".into()),
        }
    }
}

/// `[stdio]`: the identity tools see over stdio, where there is no OAuth: the OS
/// user who started the process is the boundary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdioConfig {
    pub roles: Vec<String>,
    #[serde(deserialize_with = "id_string::optional")]
    pub box_user_id: Option<String>,
}

impl StdioConfig {
    /// The principal of every stdio call: subject `local:<OS user>`, the
    /// configured roles and Box user, and `scopes` (every supported scope).
    pub fn local_principal(&self, scopes: Vec<String>) -> super::Principal {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        super::Principal {
            issuer: "local".into(),
            subject: format!("local:{user}"),
            username: Some(user),
            email: None,
            email_verified: false,
            client_id: None,
            roles: self.roles.clone(),
            groups: Vec::new(),
            scopes,
            box_user_id: self.box_user_id.clone(),
            valid_until: u64::MAX,
            bound_key: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth0_preset_reads_namespaced_roles_and_permissions() {
        let mut c = ClaimsConfig {
            preset: ClaimPreset::Auth0,
            ..Default::default()
        };
        c.auth0_roles_claim = "https://example.com/roles".into();
        let p = c.resolve();
        assert_eq!(p.roles, vec!["https://example.com/roles", "permissions"]);
    }
}
