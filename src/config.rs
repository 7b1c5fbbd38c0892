//! Configuration: built-in defaults → TOML file → `BOX_MCP_*` environment variables.
//!
//! Nested keys use `__` in environment variables, e.g. `BOX_MCP_AUTH__ISSUER`.
//! Everything is validated once, at load, into a [`Settings`] value whose derived
//! fields (canonical resource URL, host allow-list, …) the rest of the server reads.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::ConfigError;

/// The path of the MCP endpoint below the public base URL.
pub const MCP_PATH: &str = "/mcp";

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
    pub auth: AuthConfig,
    pub claims: ClaimsConfig,
    pub http: HttpConfig,
    pub session: SessionConfig,
    pub log: LogConfig,
    pub stdio: StdioConfig,
    /// `[box]`: how box-mcp gets its Box credentials (see [`BoxConfig`]).
    pub r#box: BoxConfig,
    /// `[policy]`: the tool policy (see [`PolicyConfig`] and `policies/README.md`).
    pub policy: PolicyConfig,
}

/// `[policy]`: which tools a caller may use, from a Casbin model and policy
/// ([`crate::authz`]). Relative paths are relative to the working directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The Casbin model (request, policy, role and effect definitions, matcher).
    pub model: PathBuf,
    /// The policy lines (`p, subject, tool, action, allow|deny` and `g, member, role`).
    pub policy: PathBuf,
    /// Reload both files when they change (and on SIGHUP); a broken edit keeps the
    /// last good policy.
    pub watch: bool,
    /// Decisions kept per (caller's policy subjects, tool, effect); 0 disables the cache.
    pub decision_cache_capacity: u64,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            model: PathBuf::from("policies/model.conf"),
            policy: PathBuf::from("policies/policy.csv"),
            watch: true,
            decision_cache_capacity: 10_000,
        }
    }
}

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
    /// Broader scopes and the narrower ones they include, e.g.
    /// `{ "box:admin" = ["box:write", "mcp:tools"] }`: a token with a broader
    /// scope satisfies a check for a narrower one (transitively).
    pub scope_hierarchy: std::collections::BTreeMap<String, Vec<String>>,
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
    /// BENCHMARKS ONLY: serve `/mcp` with no authentication, no scope checks and
    /// no tool policy, to measure what they cost (`loadbench/`). Refused unless
    /// the binary was built with the cargo feature `insecure-no-auth` and listens
    /// on a loopback address; a normal build cannot turn authentication off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_disabled: bool,
}

/// Which claim preset fills the claim paths that are not set explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimPreset {
    Keycloak,
    Auth0,
    Custom,
}

/// Where each part of the [`crate::auth::Principal`] is read from in the token.
/// A path is a dot-separated walk into the claims (`realm_access.roles`); a claim
/// whose full name contains dots (Auth0's `https://example.com/roles`) is matched
/// literally first.
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
    pub client_id: Option<Vec<String>>,
    pub scope: Option<String>,
    pub box_user: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Browser origins allowed to call `/mcp`. A request with any other `Origin`
    /// gets 403. Empty: only the public base URL's own origin.
    pub allowed_origins: Vec<String>,
    /// Accepted `Host` header values (`host` or `host:port`). Empty: the public
    /// base URL's host, plus loopback names when listening on loopback. `"*"`: any.
    pub allowed_hosts: Vec<String>,
    /// Largest accepted request body, in bytes (413 beyond).
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Most sessions tracked at once (each bound to its subject).
    pub max_sessions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `box_mcp=debug,info`.
    pub level: String,
    /// Write the audit trail (one JSON line per tool call) to this file, appending,
    /// instead of the main log.
    pub audit_file: Option<std::path::PathBuf>,
}

/// The identity tools see over stdio, where there is no OAuth: the OS user who
/// started the process is the boundary.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdioConfig {
    pub roles: Vec<String>,
    #[serde(deserialize_with = "id_string::optional")]
    pub box_user_id: Option<String>,
}

/// `[box]`: the Box side (trust boundary 2). How box-mcp obtains Box tokens,
/// which the credential broker ([`crate::broker`]) then downscopes per tool call.
/// Checked at load by [`BoxConfig::validate`]; errors name the key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoxConfig {
    /// `disabled` (no Box access; Box tools fail with a clear error), `service`
    /// (every caller works through the app's service account) or `per_user`
    /// (each caller is mapped to their own Box user).
    pub mode: BoxMode,
    /// How the parent token is obtained: `ccg` (Client Credentials Grant) or
    /// `jwt` (JWT app, `jwt_config_file`).
    pub auth: BoxAuth,
    pub api_base_url: String,
    pub upload_base_url: String,
    /// Box's token endpoint; also the `aud` of JWT assertions.
    pub token_url: String,
    pub revoke_url: String,
    /// Allow plain `http://` Box URLs on hosts other than loopback (a sandbox in
    /// a container network). Never for real Box.
    pub allow_insecure_http: bool,
    /// Timeout of each call to the token endpoint (and the broker's own lookups).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per token request, the first included (429, 5xx and connection
    /// errors are retried; other 4xx are not).
    pub token_max_attempts: u32,
    /// First backoff between attempts; doubles, with jitter, up to 5 s.
    /// A longer `Retry-After` from Box is honoured.
    #[serde(with = "humantime_serde")]
    pub token_retry_initial_backoff: Duration,
    /// Upper bound on the time one token request may take, retries included.
    #[serde(with = "humantime_serde")]
    pub token_retry_max_elapsed: Duration,
    /// Attempts per Box API call, the first included (429 honouring `Retry-After`,
    /// 5xx and connection errors are retried; a 401 renews the token once).
    pub api_max_attempts: u32,
    /// Upper bound on the time one Box API call may take, retries included.
    #[serde(with = "humantime_serde")]
    pub api_retry_max_elapsed: Duration,
    /// The Box app's client id (`ccg`; for `jwt` it overrides the file's).
    #[serde(deserialize_with = "id_string::optional")]
    pub client_id: Option<String>,
    /// The Box app's client secret (`ccg`; for `jwt` it overrides the file's).
    /// Printed as `"[redacted]"`: this struct's `Serialize` never writes a secret.
    #[serde(
        serialize_with = "secret_string::serialize_redacted",
        deserialize_with = "secret_string::optional"
    )]
    pub client_secret: Option<SecretString>,
    /// The enterprise whose service account is used (`box_subject_id`, or the
    /// `sub` of an enterprise assertion). For `jwt`, defaults to the file's `enterpriseID`.
    #[serde(deserialize_with = "id_string::optional")]
    pub enterprise_id: Option<String>,
    /// The Box app configuration JSON downloaded from the developer console
    /// (`boxAppSettings`, `appAuth` with the encrypted private key, `enterpriseID`).
    pub jwt_config_file: Option<PathBuf>,
    /// Overrides `appAuth.passphrase` of the JWT config file.
    #[serde(
        serialize_with = "secret_string::serialize_redacted",
        deserialize_with = "secret_string::optional"
    )]
    pub jwt_passphrase: Option<SecretString>,
    /// `per_user`: how a caller is mapped to a Box user: `claim` (the token's Box
    /// user claim, `claims.box_user`), `email` (a Box user whose login is the
    /// token's email, looked up with the service account) or `file` (`mapping_file`).
    pub user_mapping: BoxUserMapping,
    /// `user_mapping = "file"`: TOML or JSON with `subjects`, `usernames`, `emails`
    /// tables mapping to Box user ids.
    pub mapping_file: Option<PathBuf>,
    /// `per_user`: `user_token` (a token for the user: CCG with
    /// `box_subject_type=user`, or a JWT user assertion) or `as_user` (the service
    /// token with an `As-User` header).
    pub per_user_token: BoxPerUserToken,
    /// Most tokens kept in each cache (parent tokens, downscoped tokens, email lookups).
    pub cache_capacity: u64,
    /// A cached token is replaced this long before it expires (at half its life
    /// if it lives less than twice this).
    #[serde(with = "humantime_serde")]
    pub expiry_margin: Duration,
    /// How long an email → Box user lookup is kept (a miss: at most 1 minute).
    #[serde(with = "humantime_serde")]
    pub user_lookup_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxMode {
    Disabled,
    Service,
    PerUser,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxAuth {
    Ccg,
    Jwt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxUserMapping {
    Claim,
    Email,
    File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxPerUserToken {
    UserToken,
    AsUser,
}

impl Default for BoxConfig {
    fn default() -> Self {
        Self {
            mode: BoxMode::Disabled,
            auth: BoxAuth::Ccg,
            api_base_url: "https://api.box.com/2.0".into(),
            upload_base_url: "https://upload.box.com/api/2.0".into(),
            token_url: "https://api.box.com/oauth2/token".into(),
            revoke_url: "https://api.box.com/oauth2/revoke".into(),
            allow_insecure_http: false,
            timeout: Duration::from_secs(10),
            token_max_attempts: 4,
            token_retry_initial_backoff: Duration::from_millis(250),
            token_retry_max_elapsed: Duration::from_secs(20),
            api_max_attempts: 4,
            api_retry_max_elapsed: Duration::from_secs(20),
            client_id: None,
            client_secret: None,
            enterprise_id: None,
            jwt_config_file: None,
            jwt_passphrase: None,
            user_mapping: BoxUserMapping::Claim,
            mapping_file: None,
            per_user_token: BoxPerUserToken::UserToken,
            cache_capacity: 10_000,
            expiry_margin: Duration::from_secs(60),
            user_lookup_ttl: Duration::from_secs(600),
        }
    }
}

impl BoxConfig {
    /// Checks every `box.*` value and, unless Box is disabled, that the
    /// credentials are complete and usable: the JWT config file is read and its
    /// key decrypted, the mapping file parsed. The error names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::broker::Plan::resolve(self)
            .map(drop)
            .map_err(|e| match e {
                crate::broker::BrokerError::Config { key, message } => {
                    ConfigError::Invalid { key, message }
                }
                other => ConfigError::invalid("box", other),
            })
    }
}

/// Optional secrets: read as text (figment turns an all-digit environment value
/// into a number: accept that too), and always written as `"[redacted]"`.
mod secret_string {
    use secrecy::SecretString;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
        Ok(Option::<Raw>::deserialize(d)?.and_then(|raw| {
            let text = match raw {
                Raw::Text(s) => s,
                Raw::Unsigned(n) => n.to_string(),
                Raw::Signed(n) => n.to_string(),
            };
            (!text.is_empty()).then(|| SecretString::from(text))
        }))
    }

    pub fn serialize_redacted<S: Serializer>(
        value: &Option<SecretString>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(_) => s.serialize_some("[redacted]"),
            None => s.serialize_none(),
        }
    }
}

/// Ids are strings, but figment parses environment values (`31000002` becomes a
/// number): accept both and keep the digits as written.
mod id_string {
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
            Id::Text(s) => s,
            Id::Unsigned(n) => n.to_string(),
            Id::Signed(n) => n.to_string(),
        }))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8000".into(),
            public_base_url: String::new(),
            resource_name: "box-mcp".into(),
            stateless: false,
            auth: AuthConfig::default(),
            claims: ClaimsConfig::default(),
            http: HttpConfig::default(),
            session: SessionConfig::default(),
            log: LogConfig::default(),
            stdio: StdioConfig::default(),
            r#box: BoxConfig::default(),
            policy: PolicyConfig::default(),
        }
    }
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
            scope_hierarchy: std::collections::BTreeMap::new(),
            jwks_min_refresh_interval: Duration::from_secs(10),
            jwks_refresh_interval: Duration::from_secs(300),
            discovery_retry_initial: Duration::from_millis(500),
            discovery_retry_max: Duration::from_secs(30),
            idp_timeout: Duration::from_secs(5),
            token_cache_capacity: 100_000,
            token_cache_max_ttl: Duration::from_secs(300),
            insecure_disabled: false,
        }
    }
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
            client_id: None,
            scope: None,
            box_user: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            // Room for a 4 MiB upload as base64 in a JSON-RPC body.
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            max_sessions: 100_000,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".into(),
            audit_file: None,
        }
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
];

fn is_configuration_variable(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !NOT_CONFIGURATION.contains(&key.as_str()) && !key.starts_with("test_")
}

/// Resolved claim paths, with the preset applied.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimPaths {
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub username: Vec<String>,
    pub email: String,
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

/// Whether this build may honour `auth.insecure_disabled` (benchmark builds only).
pub const INSECURE_NO_AUTH_BUILD: bool = cfg!(feature = "insecure-no-auth");

/// `auth.insecure_disabled` is for benchmarks on one machine: it needs a build
/// made for that and a loopback listen address, so a deployment cannot switch
/// authentication off by configuration.
fn check_insecure_disabled(auth: &AuthConfig, listen: SocketAddr) -> Result<(), ConfigError> {
    if !auth.insecure_disabled {
        return Ok(());
    }
    if !listen.ip().is_loopback() {
        return Err(ConfigError::invalid(
            "auth.insecure_disabled",
            "turns authentication off and is allowed only with a loopback `listen` address",
        ));
    }
    if !INSECURE_NO_AUTH_BUILD {
        return Err(ConfigError::invalid(
            "auth.insecure_disabled",
            "this build always authenticates; only a benchmark build (cargo feature \
             `insecure-no-auth`) can turn authentication off",
        ));
    }
    Ok(())
}

/// Where the server listens and how it is known to clients.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// Base URL without a trailing slash, e.g. `https://mcp.example.com`.
    pub base: String,
    /// The canonical resource URL: the token audience and the PRM `resource`.
    pub resource: String,
    /// Absolute URL of the path-suffixed protected resource metadata.
    pub resource_metadata: String,
}

impl PublicUrls {
    pub fn from_base(base: &Url) -> Self {
        let base = base.as_str().trim_end_matches('/').to_string();
        Self {
            resource: format!("{base}{MCP_PATH}"),
            resource_metadata: format!("{base}/.well-known/oauth-protected-resource{MCP_PATH}"),
            base,
        }
    }
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
}

impl Settings {
    pub fn from_config(raw: Config) -> Result<Self, ConfigError> {
        let listen: SocketAddr = raw
            .listen
            .parse()
            .map_err(|e| ConfigError::invalid("listen", e))?;

        let public_base_url = if raw.public_base_url.trim().is_empty() {
            None
        } else {
            let url = Url::parse(&raw.public_base_url)
                .map_err(|e| ConfigError::invalid("public_base_url", e))?;
            check_http_url(&url, "public_base_url")?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(ConfigError::invalid(
                    "public_base_url",
                    "must not have a query or fragment",
                ));
            }
            Some(url)
        };

        check_insecure_disabled(&raw.auth, listen)?;

        let issuer =
            Url::parse(&raw.auth.issuer).map_err(|e| ConfigError::invalid("auth.issuer", e))?;
        check_http_url(&issuer, "auth.issuer")?;

        let algorithms = parse_algorithms(&raw.auth.algorithms)?;

        if raw.auth.leeway > Duration::from_secs(300) {
            return Err(ConfigError::invalid(
                "auth.leeway",
                "must be at most 5 minutes",
            ));
        }
        if raw.auth.discovery_retry_initial.is_zero() {
            return Err(ConfigError::invalid(
                "auth.discovery_retry_initial",
                "must be above zero",
            ));
        }
        if raw.auth.discovery_retry_max < raw.auth.discovery_retry_initial {
            return Err(ConfigError::invalid(
                "auth.discovery_retry_max",
                "must be at least auth.discovery_retry_initial",
            ));
        }
        if raw.auth.jwks_refresh_interval < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "auth.jwks_refresh_interval",
                "must be at least 1s",
            ));
        }
        if raw.auth.idp_timeout.is_zero() {
            return Err(ConfigError::invalid(
                "auth.idp_timeout",
                "must be above zero",
            ));
        }
        for (i, scope) in raw
            .auth
            .required_scopes
            .iter()
            .chain(&raw.auth.scopes_supported)
            .enumerate()
        {
            if !is_scope_token(scope) {
                return Err(ConfigError::invalid(
                    "auth.required_scopes/scopes_supported",
                    format!("entry {i} ({scope:?}) is not a valid OAuth scope"),
                ));
            }
        }
        for (broader, narrower) in &raw.auth.scope_hierarchy {
            if let Some(bad) = std::iter::once(broader)
                .chain(narrower)
                .find(|s| !is_scope_token(s))
            {
                return Err(ConfigError::invalid(
                    "auth.scope_hierarchy",
                    format!("{bad:?} is not a valid OAuth scope"),
                ));
            }
        }
        if raw.http.max_body_bytes == 0 {
            return Err(ConfigError::invalid(
                "http.max_body_bytes",
                "must be above zero",
            ));
        }
        for origin in &raw.http.allowed_origins {
            parse_origin(origin).map_err(|e| ConfigError::invalid("http.allowed_origins", e))?;
        }
        if raw.session.idle_timeout < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                "session.idle_timeout",
                "must be at least 1s",
            ));
        }
        if raw.session.max_sessions == 0 {
            return Err(ConfigError::invalid(
                "session.max_sessions",
                "must be above zero",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&raw.log.level)
            .map_err(|e| ConfigError::invalid("log.level", e))?;
        raw.r#box.validate()?;
        if raw.policy.model.as_os_str().is_empty() {
            return Err(ConfigError::invalid("policy.model", "must not be empty"));
        }
        if raw.policy.policy.as_os_str().is_empty() {
            return Err(ConfigError::invalid("policy.policy", "must not be empty"));
        }

        let claims = raw.claims.resolve();
        let scopes_supported = if raw.auth.scopes_supported.is_empty() {
            raw.auth.required_scopes.clone()
        } else {
            raw.auth.scopes_supported.clone()
        };
        Ok(Self {
            listen,
            public_base_url,
            algorithms,
            claims,
            scopes_supported,
            raw,
        })
    }

    /// The configuration as `config check` prints it. Secrets (`box.client_secret`,
    /// `box.jwt_passphrase`) are written as `"[redacted]"` by their serializer, so
    /// no rendering of the configuration can show them.
    pub fn redacted_toml(&self) -> String {
        toml_string(&self.raw)
    }

    /// The host allow-list, resolved against the public URL and listen address.
    /// `None` means any host is accepted.
    pub fn allowed_hosts(&self, public: &Url) -> Option<Vec<String>> {
        if self.raw.http.allowed_hosts.iter().any(|h| h == "*") {
            return None;
        }
        if !self.raw.http.allowed_hosts.is_empty() {
            return Some(
                self.raw
                    .http
                    .allowed_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            );
        }
        let mut hosts = Vec::new();
        if let Some(host) = public.host_str() {
            hosts.push(host.to_ascii_lowercase());
        }
        if self.listen.ip().is_loopback() {
            hosts.extend(["localhost", "127.0.0.1", "[::1]"].map(String::from));
        }
        Some(hosts)
    }

    /// Allowed origins, as `scheme://host[:port]` strings normalised by [`parse_origin`].
    pub fn allowed_origins(&self, public: &Url) -> Vec<String> {
        let mut origins: Vec<String> = self
            .raw
            .http
            .allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o).ok())
            .collect();
        origins.push(public.origin().ascii_serialization());
        origins
    }
}

fn toml_string<T: Serialize>(value: &T) -> String {
    toml::to_string_pretty(value)
        .unwrap_or_else(|e| format!("# cannot render configuration: {e}\n"))
}

fn check_http_url(url: &Url, key: &'static str) -> Result<(), ConfigError> {
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(()),
        _ => Err(ConfigError::invalid(key, "must be an absolute http(s) URL")),
    }
}

fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, ConfigError> {
    if names.is_empty() {
        return Err(ConfigError::invalid(
            "auth.algorithms",
            "must list at least one algorithm",
        ));
    }
    names
        .iter()
        .map(|name| {
            let alg: Algorithm = name.parse().map_err(|_| {
                ConfigError::invalid("auth.algorithms", format!("unknown algorithm {name:?}"))
            })?;
            if alg.family() == AlgorithmFamily::Hmac {
                return Err(ConfigError::invalid(
                    "auth.algorithms",
                    format!("{name} is symmetric; only asymmetric algorithms are accepted"),
                ));
            }
            Ok(alg)
        })
        .collect()
}

/// RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// Normalises an origin (`scheme://host[:port]`) so comparisons are exact.
pub fn parse_origin(origin: &str) -> Result<String, String> {
    if origin == "null" {
        return Ok("null".into());
    }
    let url = Url::parse(origin).map_err(|e| format!("{origin:?}: {e}"))?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{origin:?} is not a bare origin (scheme://host[:port])"
        ));
    }
    match url.origin() {
        o @ url::Origin::Tuple(..) => Ok(o.ascii_serialization()),
        url::Origin::Opaque(_) => Err(format!("{origin:?} has no host")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_with(f: impl FnOnce(&mut Config)) -> Result<Settings, ConfigError> {
        let mut c = Config::default();
        f(&mut c);
        Settings::from_config(c)
    }

    #[test]
    fn defaults_are_valid() {
        let s = settings_with(|_| {}).unwrap();
        assert_eq!(s.scopes_supported, vec!["mcp:tools"]);
        assert_eq!(s.claims.roles[0], "realm_access.roles");
    }

    #[test]
    fn hmac_algorithms_are_refused_with_the_key_named() {
        let err = settings_with(|c| c.auth.algorithms = vec!["HS256".into()]).unwrap_err();
        assert!(err.to_string().contains("auth.algorithms"), "{err}");
    }

    #[test]
    fn bad_values_name_their_key() {
        for (key, f) in [
            (
                "listen",
                Box::new(|c: &mut Config| c.listen = "nope".into()) as Box<dyn FnOnce(&mut Config)>,
            ),
            (
                "auth.issuer",
                Box::new(|c: &mut Config| c.auth.issuer = "ftp://x".into()),
            ),
            (
                "public_base_url",
                Box::new(|c: &mut Config| c.public_base_url = "http://h/?q=1".into()),
            ),
            (
                "http.allowed_origins",
                Box::new(|c: &mut Config| c.http.allowed_origins = vec!["http://x/path".into()]),
            ),
            (
                "log.level",
                Box::new(|c: &mut Config| c.log.level = "info,,=[".into()),
            ),
        ] {
            let err = settings_with(f).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn authentication_cannot_be_turned_off_away_from_loopback() {
        let err = settings_with(|c| {
            c.listen = "0.0.0.0:8000".into();
            c.auth.insecure_disabled = true;
        })
        .unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[test]
    fn authentication_can_be_turned_off_only_in_a_benchmark_build() {
        let result = settings_with(|c| c.auth.insecure_disabled = true);
        if INSECURE_NO_AUTH_BUILD {
            assert!(result.is_ok());
        } else {
            let err = result.unwrap_err().to_string();
            assert!(
                err.contains("auth.insecure_disabled") && err.contains("insecure-no-auth"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_benchmark_switch_is_not_printed_when_off() {
        let printed = toml::to_string(&Config::default()).unwrap();
        assert!(!printed.contains("insecure_disabled"), "{printed}");
    }

    #[test]
    fn canonical_url_has_no_trailing_slash() {
        let urls = PublicUrls::from_base(&Url::parse("https://mcp.example.com/").unwrap());
        assert_eq!(urls.resource, "https://mcp.example.com/mcp");
        assert_eq!(
            urls.resource_metadata,
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            parse_origin("HTTP://Example.COM:80").unwrap(),
            "http://example.com"
        );
        assert!(parse_origin("http://example.com/x").is_err());
    }

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
