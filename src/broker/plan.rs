//! `[box]` resolved into what the broker does: which grant, which mode, which
//! mapping, with every value checked. Used at configuration load (so `config
//! check` and `serve` fail early, naming the key) and when the broker is built.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::{box_api::BoxId, linked::LinkedPlan, retry::RetryPolicy, setting::InvalidSetting};

use super::config::{BoxAuth, BoxConfig, BoxMode, BoxPerUserToken, BoxUserMapping};
use super::{error::BrokerError, jwt::JwtApp, mapping::MappingFile};

/// How the parent token is obtained.
#[derive(Debug, Clone)]
pub(crate) enum GrantPlan {
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    Jwt(Box<JwtApp>),
}

/// How a caller is mapped to a Box user (per-user mode).
#[derive(Debug, Clone)]
pub(crate) enum MappingPlan {
    Claim,
    Email,
    File(MappingFile),
}

#[derive(Debug, Clone)]
pub(crate) enum ModePlan {
    Disabled,
    Service,
    PerUser {
        mapping: MappingPlan,
        token: BoxPerUserToken,
    },
    /// `per_user_token = "linked"`: each caller's own Box account, from the IdP.
    Linked(LinkedPlan),
}

/// A checked `[box]` section.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) mode: ModePlan,
    /// `None` only when disabled.
    pub(crate) grant: Option<GrantPlan>,
    /// Needed by service mode, `as_user` and the email lookup.
    pub(crate) enterprise_id: Option<String>,
    /// Without a trailing slash.
    pub(crate) api_base: String,
    pub(crate) token_url: Url,
    /// Where box-mcp's own Box tokens are revoked at shutdown.
    pub(crate) revoke_url: Url,
    /// How token endpoint calls and the broker's own lookups are retried.
    pub(crate) token_retry: RetryPolicy,
    /// How the tools' Box API calls are retried.
    pub(crate) api_retry: RetryPolicy,
    /// Timeout of one outbound attempt.
    pub(crate) timeout: Duration,
    pub(crate) cache_capacity: u64,
    pub(crate) expiry_margin: Duration,
    pub(crate) user_lookup_ttl: Duration,
}

impl Plan {
    /// Whether callers' own linked Box accounts are used (`per_user_token = "linked"`).
    pub fn uses_linked_accounts(&self) -> bool {
        matches!(self.mode, ModePlan::Linked(_))
    }

    /// Checks every value of `[box]`; unless Box is disabled, also that the
    /// credentials are complete, reading the JWT config and mapping files.
    pub fn resolve(c: &BoxConfig) -> Result<Self, BrokerError> {
        Self::resolve_for(c, None)
    }

    /// As [`Plan::resolve`]; `issuer` (`auth.issuer`) gives `[box.linked]` its
    /// default URLs.
    pub fn resolve_for(c: &BoxConfig, issuer: Option<&str>) -> Result<Self, BrokerError> {
        let api = check_url("box.api_base_url", &c.api_base_url, c.allow_insecure_http)?;
        check_url(
            "box.upload_base_url",
            &c.upload_base_url,
            c.allow_insecure_http,
        )?;
        let token_url = check_url("box.token_url", &c.token_url, c.allow_insecure_http)?;
        let revoke_url = check_url("box.revoke_url", &c.revoke_url, c.allow_insecure_http)?;
        check_duration(
            "box.timeout",
            c.timeout,
            Duration::from_millis(1),
            MINUTES_5,
        )?;
        check_duration(
            "box.tool_timeout",
            c.tool_timeout,
            Duration::from_millis(1),
            Duration::from_secs(600),
        )?;
        if !(1..=10).contains(&c.api_max_attempts) {
            return Err(BrokerError::config(
                "box.api_max_attempts",
                "must be between 1 and 10",
            ));
        }
        check_duration(
            "box.api_retry_max_elapsed",
            c.api_retry_max_elapsed,
            Duration::from_millis(1),
            MINUTES_5,
        )?;
        if !(1..=10).contains(&c.token_max_attempts) {
            return Err(BrokerError::config(
                "box.token_max_attempts",
                "must be between 1 and 10",
            ));
        }
        check_duration(
            "box.token_retry_initial_backoff",
            c.token_retry_initial_backoff,
            Duration::ZERO,
            Duration::from_secs(10),
        )?;
        check_duration(
            "box.token_retry_max_elapsed",
            c.token_retry_max_elapsed,
            Duration::from_millis(1),
            Duration::from_secs(600),
        )?;
        if c.cache_capacity == 0 {
            return Err(BrokerError::config(
                "box.cache_capacity",
                "must be above zero",
            ));
        }
        check_duration(
            "box.expiry_margin",
            c.expiry_margin,
            Duration::ZERO,
            Duration::from_secs(1800),
        )?;
        check_duration(
            "box.user_lookup_ttl",
            c.user_lookup_ttl,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        )?;

        let client_id = nonempty(&c.client_id);
        if let Some(id) = client_id
            && id.chars().any(|ch| ch.is_whitespace() || ch.is_control())
        {
            return Err(BrokerError::config(
                "box.client_id",
                "must not contain whitespace",
            ));
        }
        let client_secret = c
            .client_secret
            .as_ref()
            .filter(|s| !s.expose_secret().is_empty());
        let mut enterprise_id = nonempty(&c.enterprise_id).map(str::to_string);
        if let Some(id) = &enterprise_id
            && !BoxId::is_valid(id)
        {
            return Err(BrokerError::config(
                "box.enterprise_id",
                format!("{id:?} is not a Box enterprise id (digits)"),
            ));
        }

        let mut plan = Self {
            mode: ModePlan::Disabled,
            grant: None,
            enterprise_id: None,
            api_base: api.as_str().trim_end_matches('/').to_string(),
            token_url,
            revoke_url,
            token_retry: RetryPolicy {
                max_attempts: c.token_max_attempts,
                base_delay: c.token_retry_initial_backoff,
                max_elapsed: c.token_retry_max_elapsed,
                ..RetryPolicy::default()
            },
            api_retry: RetryPolicy {
                max_attempts: c.api_max_attempts,
                max_elapsed: c.api_retry_max_elapsed,
                ..RetryPolicy::default()
            },
            timeout: c.timeout,
            cache_capacity: c.cache_capacity,
            expiry_margin: c.expiry_margin,
            user_lookup_ttl: c.user_lookup_ttl,
        };
        if c.mode == BoxMode::Disabled {
            return Ok(plan);
        }
        if c.mode == BoxMode::PerUser && c.per_user_token == BoxPerUserToken::Linked {
            // The user's own account: no Box app credentials, mapping or enterprise.
            let linked = c
                .linked
                .resolve(issuer, c.allow_insecure_http)
                .map_err(|InvalidSetting { key, message }| BrokerError::Config { key, message })?;
            plan.mode = ModePlan::Linked(linked);
            return Ok(plan);
        }

        let grant = match c.auth {
            BoxAuth::Ccg => GrantPlan::ClientCredentials {
                client_id: client_id
                    .ok_or_else(|| {
                        BrokerError::config("box.client_id", "is required when box.auth = \"ccg\"")
                    })?
                    .to_string(),
                client_secret: client_secret.cloned().ok_or_else(|| {
                    BrokerError::config("box.client_secret", "is required when box.auth = \"ccg\"")
                })?,
            },
            BoxAuth::Jwt => {
                let path = c.jwt_config_file.as_ref().ok_or_else(|| {
                    BrokerError::config(
                        "box.jwt_config_file",
                        "is required when box.auth = \"jwt\" (the app configuration JSON from the Box developer console)",
                    )
                })?;
                let mut app = JwtApp::load(path, c.jwt_passphrase.as_ref())?;
                if let Some(id) = client_id {
                    app.client_id = id.to_string();
                }
                if let Some(secret) = client_secret {
                    app.client_secret = secret.clone();
                }
                if enterprise_id.is_none() {
                    enterprise_id = app.enterprise_id.clone().filter(|id| id != "0");
                    if let Some(id) = &enterprise_id
                        && !BoxId::is_valid(id)
                    {
                        return Err(BrokerError::config(
                            "box.jwt_config_file",
                            format!("enterpriseID {id:?} is not a Box enterprise id"),
                        ));
                    }
                }
                GrantPlan::Jwt(Box::new(app))
            }
        };

        let mode = match c.mode {
            BoxMode::Disabled => unreachable!("handled above"),
            BoxMode::Service => ModePlan::Service,
            BoxMode::PerUser => ModePlan::PerUser {
                mapping: match c.user_mapping {
                    BoxUserMapping::Claim => MappingPlan::Claim,
                    BoxUserMapping::Email => MappingPlan::Email,
                    BoxUserMapping::File => {
                        let path = c.mapping_file.as_ref().ok_or_else(|| {
                            BrokerError::config(
                                "box.mapping_file",
                                "is required when box.user_mapping = \"file\"",
                            )
                        })?;
                        MappingPlan::File(MappingFile::load(path)?)
                    }
                },
                token: c.per_user_token,
            },
        };

        let needs_enterprise = match &mode {
            ModePlan::Disabled | ModePlan::Linked(_) => None,
            ModePlan::Service => Some("box.mode = \"service\""),
            ModePlan::PerUser { token, mapping } => {
                if *token == BoxPerUserToken::AsUser {
                    Some("box.per_user_token = \"as_user\"")
                } else if matches!(mapping, MappingPlan::Email) {
                    Some("box.user_mapping = \"email\"")
                } else {
                    None
                }
            }
        };
        if let (Some(why), None) = (needs_enterprise, &enterprise_id) {
            let source = match c.auth {
                BoxAuth::Jwt => " (or enterpriseID in box.jwt_config_file)",
                BoxAuth::Ccg => "",
            };
            return Err(BrokerError::config(
                "box.enterprise_id",
                format!("is required when {why}: the service account's enterprise{source}"),
            ));
        }

        plan.mode = mode;
        plan.grant = Some(grant);
        plan.enterprise_id = enterprise_id;
        Ok(plan)
    }
}

const MINUTES_5: Duration = Duration::from_secs(300);

fn nonempty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn check_duration(
    key: &str,
    value: Duration,
    min: Duration,
    max: Duration,
) -> Result<(), BrokerError> {
    if value < min || value > max {
        return Err(BrokerError::config(
            key,
            format!("must be between {min:?} and {max:?}"),
        ));
    }
    Ok(())
}

/// An absolute URL without query, fragment or credentials; `https` unless the
/// host is loopback or plain HTTP is explicitly allowed.
fn check_url(key: &'static str, value: &str, allow_http: bool) -> Result<Url, BrokerError> {
    let url = Url::parse(value.trim()).map_err(|e| BrokerError::config(key, e))?;
    crate::setting::check_http_url(&url, key).map_err(|e| BrokerError::config(key, e.message))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BrokerError::config(
            key,
            "must be a URL without query or fragment",
        ));
    }
    crate::setting::check_transport(&url, key, ("box.allow_insecure_http", allow_http))
        .map_err(|e| BrokerError::config(key, e.message))?;
    Ok(url)
}
