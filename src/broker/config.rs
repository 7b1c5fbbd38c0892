//! `[box]`: how box-mcp obtains its Box credentials. Checked, and resolved into
//! a [`Plan`], by [`BoxConfig::validate`].

use std::{path::PathBuf, time::Duration};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::{BrokerError, Plan};
use crate::{
    linked::LinkedConfig,
    setting::{InvalidSetting, id_string, secret_string},
};

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
    /// Longest one Box tool call may take, credentials, retries and all; the caller
    /// then gets the tool error `tool_timeout`.
    #[serde(with = "humantime_serde")]
    pub tool_timeout: Duration,
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
    /// `box_subject_type=user`, or a JWT user assertion), `as_user` (the service
    /// token with an `As-User` header), or `linked` (the user's own Box account,
    /// linked at the IdP and fetched from it: `[box.linked]`; no Box app
    /// credentials, user mapping or enterprise needed).
    pub per_user_token: BoxPerUserToken,
    /// `[box.linked]`: where linked Box accounts are fetched.
    pub linked: LinkedConfig,
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
    Linked,
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
            tool_timeout: Duration::from_secs(60),
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
            linked: LinkedConfig::default(),
            cache_capacity: 10_000,
            expiry_margin: Duration::from_secs(60),
            user_lookup_ttl: Duration::from_secs(600),
        }
    }
}

impl BoxConfig {
    /// Checks every `box.*` value and, unless Box is disabled, that the
    /// credentials are complete and usable: the JWT config file is read and its
    /// key decrypted, the mapping file parsed. The error names the key. The plan
    /// it returns is what the broker is built from, so no file is read twice.
    pub fn validate(&self) -> Result<Plan, InvalidSetting> {
        self.validate_for(None)
    }

    /// As [`BoxConfig::validate`], with `auth.issuer` for the defaults of `[box.linked]`.
    pub fn validate_for(&self, issuer: Option<&str>) -> Result<Plan, InvalidSetting> {
        Plan::resolve_for(self, issuer).map_err(|e| match e {
            BrokerError::Config { key, message } => InvalidSetting { key, message },
            other => InvalidSetting::new("box", other),
        })
    }
}
