//! Configuration: built-in defaults → TOML file → `BOX_MCP_*` environment variables.
//!
//! Nested keys use `__` in environment variables, e.g. `BOX_MCP_AUTH__ISSUER`.
//! This module only layers the sources and composes the sections; each section
//! lives in the module that uses it and checks its own values (`[auth]`,
//! `[claims]` and `[stdio]` in [`crate::auth`], `[http]` and `[session]` in
//! [`crate::http`], `[log]` in [`crate::telemetry`], `[box]` in
//! [`crate::broker`], `[policy]` in [`crate::authz`]). Everything is validated
//! once, at load, into a [`Settings`] value whose derived fields (listen
//! address, algorithms, claim paths, the resolved `[box]` plan, …) the server
//! reads; every file the configuration names is read once, there.

use std::{net::SocketAddr, path::Path};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    auth::{AuthConfig, ClaimPaths, ClaimsConfig, StdioConfig},
    authz::PolicyConfig,
    broker::{BoxConfig, Plan},
    http::{
        HttpConfig, SessionConfig,
        rate_limit::RateLimitConfig,
        tls::{LoadedPair, TlsConfig},
    },
    setting::{InvalidSetting, check_http_url, check_transport},
    telemetry::{LogConfig, MetricsConfig, otlp::TraceConfig},
};

#[cfg(test)]
mod tests;

/// The raw configuration as written by the operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Socket address to listen on. Port 0 picks a free port.
    pub listen: String,
    /// Public base URL clients use, e.g. `https://mcp.example.com`. The canonical
    /// resource URL (token audience) is this plus `/mcp`. Empty: derived from the
    /// bound address (local use only).
    pub public_base_url: String,
    /// Human-readable name published in the protected resource metadata.
    pub resource_name: String,
    /// Serve MCP without sessions (for deployments behind a load balancer).
    pub stateless: bool,
    /// LAB USE ONLY: accept plain `http` for `public_base_url` and `auth.issuer` on
    /// hosts other than loopback (tokens then cross the network in clear). Logged as
    /// a warning at every start. Box's own URLs have `box.allow_insecure_http`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_http: bool,
    pub auth: AuthConfig,
    pub claims: ClaimsConfig,
    pub http: HttpConfig,
    /// `[tls]`: native TLS on the listener.
    pub tls: TlsConfig,
    pub session: SessionConfig,
    /// `[rate_limit]`: per subject, per client address, and failed tokens.
    pub rate_limit: RateLimitConfig,
    pub log: LogConfig,
    /// `[metrics]`: Prometheus metrics at `/metrics`.
    pub metrics: MetricsConfig,
    /// `[trace]`: OpenTelemetry traces over OTLP (off by default).
    pub trace: TraceConfig,
    pub stdio: StdioConfig,
    /// `[box]`: how box-mcp gets its Box credentials (see [`BoxConfig`]).
    pub r#box: BoxConfig,
    /// `[policy]`: the tool policy (see [`PolicyConfig`] and `policies/README.md`).
    pub policy: PolicyConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".into(),
            public_base_url: String::new(),
            resource_name: "box-mcp".into(),
            stateless: false,
            allow_insecure_http: false,
            auth: AuthConfig::default(),
            claims: ClaimsConfig::default(),
            http: HttpConfig::default(),
            tls: TlsConfig::default(),
            session: SessionConfig::default(),
            rate_limit: RateLimitConfig::default(),
            log: LogConfig::default(),
            metrics: MetricsConfig::default(),
            trace: TraceConfig::default(),
            stdio: StdioConfig::default(),
            r#box: BoxConfig::default(),
            policy: PolicyConfig::default(),
        }
    }
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    FileMissing(String),
    #[error("invalid value for `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("{0}")]
    Parse(String),
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, message: impl std::fmt::Display) -> Self {
        InvalidSetting::new(key, message).into()
    }

    fn from_figment(error: figment::Error) -> Self {
        // figment's own messages already name the offending key ("for key
        // `default.auth.leeway`"); keep every error of the chain.
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        Self::Parse(messages.join("; "))
    }
}

impl From<InvalidSetting> for ConfigError {
    fn from(InvalidSetting { key, message }: InvalidSetting) -> Self {
        Self::Invalid { key, message }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if given), then `BOX_MCP_*` variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::FileMissing(path.display().to_string()));
            }
            // The same bounds as every file the configuration names.
            crate::setting::read_config_file(path).map_err(|e| {
                ConfigError::Parse(format!("configuration file {}: {e}", path.display()))
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            Env::prefixed("BOX_MCP_")
                .filter(|key| is_configuration_variable(key.as_str()))
                .split("__"),
        );
        figment.extract().map_err(ConfigError::from_figment)
    }
}

impl Config {
    /// Built-in defaults, then `text` as the TOML file; no environment variables.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(ConfigError::from_figment)
    }
}

/// Variables that share our prefix but are not configuration: the config file
/// path (read by the CLI) and the variables of the project's scripts. Anything
/// else under `BOX_MCP_` must be a configuration key, so typos are errors.
const NOT_CONFIGURATION: &[&str] = &[
    "config",
    "cache",
    "resource_url",
    "keycloak_client_secret",
    "port",
    "demo_with",
    "demo_box",
    // The realm's placeholders for its `box` identity provider (keycloak/README.md):
    // one underscore after BOX, unlike the `[box]` section's BOX_MCP_BOX__*.
    "box_authorize_url",
    "box_token_url",
    "box_userinfo_url",
    "box_oauth_client_id",
    "box_oauth_client_secret",
    "box_min_validity",
    // The corporate realm's placeholders (keycloak/acme-corp-realm.json).
    "keycloak_url",
    "acme_client_secret",
];

fn is_configuration_variable(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !NOT_CONFIGURATION.contains(&key.as_str()) && !key.starts_with("test_")
}

/// A validated configuration. Built only through [`Settings::from_config`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub raw: Config,
    pub listen: SocketAddr,
    /// `None` when the base URL is derived from the bound address at start.
    pub public_base_url: Option<Url>,
    pub algorithms: Vec<Algorithm>,
    pub claims: ClaimPaths,
    pub scopes_supported: Vec<String>,
    /// `[box]`, checked and resolved (JWT app and mapping files read, once).
    pub box_plan: Plan,
    /// `[tls]`'s files, read and checked, when TLS is on.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf, LoadedPair)>,
}

impl Settings {
    pub fn from_config(raw: Config) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|e| ConfigError::invalid("listen", e))?;

        let insecure_http = ("allow_insecure_http", raw.allow_insecure_http);
        let public_base_url = if raw.public_base_url.trim().is_empty() {
            // Derived from the bound address: plain http, so only on loopback. Behind a
            // TLS-terminating proxy the listener is plain, the public URL https.
            if !listen.ip().is_loopback() && !raw.allow_insecure_http {
                return Err(ConfigError::invalid(
                    "public_base_url",
                    "is required when `listen` is not a loopback address: the https URL clients use \
                     (for a lab without TLS, set allow_insecure_http = true)",
                ));
            }
            None
        } else {
            let url = Url::parse(&raw.public_base_url)
                .map_err(|e| ConfigError::invalid("public_base_url", e))?;
            check_http_url(&url, "public_base_url")?;
            check_transport(&url, "public_base_url", insecure_http)?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(ConfigError::invalid(
                    "public_base_url",
                    "must not have a query or fragment",
                ));
            }
            Some(url)
        };

        raw.auth.validate(listen, insecure_http)?;
        raw.http.validate()?;
        raw.session.validate()?;
        raw.rate_limit.validate()?;
        raw.tls.validate()?;
        let tls = match raw.tls.files()? {
            Some((cert, key)) => {
                let pair = crate::http::tls::load_pair(&cert, &key)
                    .map_err(|e| ConfigError::invalid("tls", e))?;
                Some((cert, key, pair))
            }
            None => None,
        };
        raw.log.validate()?;
        raw.trace.validate(insecure_http)?;
        let box_plan = raw.r#box.validate_for(Some(&raw.auth.issuer))?;
        raw.policy.validate()?;

        Ok(Self {
            listen,
            public_base_url,
            algorithms: raw.auth.algorithms()?,
            claims: raw.claims.resolve(),
            scopes_supported: raw.auth.scopes_supported(),
            box_plan,
            tls,
            raw,
        })
    }

    /// The configuration as `config check` prints it. Secrets (`box.client_secret`,
    /// `box.jwt_passphrase`) are written as `"[redacted]"` by their serializer, so
    /// no rendering of the configuration can show them.
    pub fn redacted_toml(&self) -> String {
        toml::to_string_pretty(&self.raw)
            .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
    }
}
