//! RFC 7662 token introspection: for tokens box-mcp cannot judge by itself
//! (opaque tokens, Keycloak's lightweight access tokens, which carry no claims)
//! and, with `introspect_jwts`, for every token, so that a revocation at the IdP
//! takes effect within `cache_ttl` instead of at `exp`.
//!
//! The IdP's answer is held to the same rules as a JWT's claims: `active` must be
//! `true`, `iss` is the issuer exactly, `aud` names this resource, `exp` is in
//! the future and `iat` is not; the principal and its scopes come from the same
//! claim paths. Answers are cached by the token's SHA-256 (never the token) for
//! `cache_ttl`, never past the token's `exp`. An IdP that cannot answer gives
//! 503, as the JWKS does.

mod config;

use std::{sync::Arc, time::Duration};

use moka::{Expiry, sync::Cache};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::OnceCell;
use url::{Url, form_urlencoded};

pub use config::{ClientAuth, IntrospectionConfig};

use super::{
    ClaimPaths, IdpClient, Principal, TokenRejection, VerifyError,
    claim_rules::{check_audience, check_key_binding, registered_claims, unix_now},
    keys::sha256,
};
use crate::metrics;

type TokenDigest = [u8; 32];

/// Cached answers live for `ttl`, and never past the token's own validity.
struct UntilExpiryOrTtl {
    ttl: Duration,
}

impl Expiry<TokenDigest, Arc<Principal>> for UntilExpiryOrTtl {
    fn expire_after_create(
        &self,
        _key: &TokenDigest,
        value: &Arc<Principal>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let remaining = value.valid_until.saturating_sub(unix_now());
        Some(Duration::from_secs(remaining).min(self.ttl))
    }
}

pub struct Introspector {
    idp: IdpClient,
    /// Configured, or found by discovery on first use.
    endpoint: OnceCell<Url>,
    client_id: String,
    client_secret: SecretString,
    client_auth: ClientAuth,
    issuer: String,
    audiences: Vec<String>,
    claims: ClaimPaths,
    leeway: u64,
    /// `allow_insecure_http`: a discovered plain-http endpoint off loopback is
    /// refused unless the operator opted out.
    allow_insecure_http: bool,
    active: Cache<TokenDigest, Arc<Principal>>,
    /// Refusals (`active: false`, a wrong audience, …), kept as long as answers.
    refused: Cache<TokenDigest, TokenRejection>,
}

/// What [`Introspector::new`] needs besides `[auth.introspection]`.
pub struct IntrospectionContext {
    pub idp: IdpClient,
    pub issuer: String,
    /// The canonical resource URL and `auth.extra_audiences`.
    pub audiences: Vec<String>,
    pub claims: ClaimPaths,
    pub leeway: Duration,
    pub allow_insecure_http: bool,
}

impl Introspector {
    /// `None` when introspection is off. The config has been validated.
    pub fn new(config: &IntrospectionConfig, context: IntrospectionContext) -> Option<Self> {
        if !config.enabled {
            return None;
        }
        let endpoint = OnceCell::new();
        if let Some(url) = config.endpoint.as_deref().and_then(|e| Url::parse(e).ok()) {
            let _ = endpoint.set(url);
        }
        Some(Self {
            idp: context.idp,
            endpoint,
            client_id: config.client_id.clone().unwrap_or_default(),
            client_secret: config
                .client_secret
                .clone()
                .unwrap_or_else(|| SecretString::from(String::new())),
            client_auth: config.client_auth,
            issuer: context.issuer,
            audiences: context.audiences,
            claims: context.claims,
            leeway: context.leeway.as_secs(),
            allow_insecure_http: context.allow_insecure_http,
            active: Cache::builder()
                .max_capacity(config.cache_capacity)
                .expire_after(UntilExpiryOrTtl {
                    ttl: config.cache_ttl,
                })
                .build(),
            refused: Cache::builder()
                .max_capacity(config.cache_capacity)
                .time_to_live(config.cache_ttl.max(Duration::from_secs(1)))
                .build(),
        })
    }

    /// The principal the IdP says `token` stands for.
    pub async fn introspect(&self, token: &str) -> Result<Arc<Principal>, VerifyError> {
        let digest = sha256(token.as_bytes());
        if let Some(principal) = self.active.get(&digest)
            && unix_now() <= principal.valid_until
        {
            metrics::cache(metrics::Cache::Introspection, true);
            return Ok(principal);
        }
        if let Some(rejection) = self.refused.get(&digest) {
            metrics::cache(metrics::Cache::Introspection, true);
            return Err(rejection.into());
        }
        metrics::cache(metrics::Cache::Introspection, false);
        let answer = self.ask(token).await?;
        match self.judge(&answer) {
            Ok(principal) => {
                let principal = Arc::new(principal);
                self.active.insert(digest, Arc::clone(&principal));
                Ok(principal)
            }
            Err(rejection) => {
                if rejection.is_lasting() {
                    self.refused.insert(digest, rejection.clone());
                }
                Err(rejection.into())
            }
        }
    }

    /// One answer, held to the rules a JWT's claims are held to
    /// ([`Introspector::introspect`] without the endpoint and the cache).
    pub fn judge(&self, answer: &Map<String, Value>) -> Result<Principal, TokenRejection> {
        // RFC 7662 §2.2: `active` is a boolean; anything else is not "true".
        if answer.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenRejection::Inactive);
        }
        let now = unix_now();
        let exp = registered_claims(answer, &self.issuer, now, self.leeway)?;
        if exp.saturating_add(self.leeway) < now {
            return Err(TokenRejection::Expired);
        }
        if let Some(nbf) = answer.get("nbf") {
            let nbf = nbf.as_u64().ok_or(TokenRejection::InvalidClaim("nbf"))?;
            if nbf > now.saturating_add(self.leeway) {
                return Err(TokenRejection::NotYetValid);
            }
        }
        check_audience(answer, &self.audiences)?;
        check_key_binding(answer)?;
        Principal::from_claims(
            &self.issuer,
            answer,
            &self.claims,
            exp.saturating_add(self.leeway),
        )
        .ok_or(TokenRejection::InvalidClaim("sub"))
    }

    async fn endpoint(&self) -> Result<&Url, VerifyError> {
        self.endpoint
            .get_or_try_init(|| async {
                let discovery = self.idp.discover().await.map_err(|e| {
                    tracing::warn!(error = %e, "cannot discover the introspection endpoint");
                    VerifyError::IdpUnavailable(format!("discovery for introspection: {e}"))
                })?;
                let url = discovery.introspection_endpoint.ok_or_else(|| {
                    tracing::error!(
                        "the identity provider publishes no introspection_endpoint; set auth.introspection.endpoint"
                    );
                    VerifyError::IdpUnavailable(
                        "the identity provider publishes no introspection endpoint".into(),
                    )
                })?;
                let plain_off_loopback = url.scheme() != "https"
                    && !crate::setting::is_loopback_host(&url)
                    && !self.allow_insecure_http;
                if plain_off_loopback || !matches!(url.scheme(), "http" | "https") {
                    tracing::error!(%url, "the discovered introspection endpoint is not https; refusing to send tokens to it");
                    return Err(VerifyError::IdpUnavailable(
                        "the introspection endpoint is not https".into(),
                    ));
                }
                Ok(url)
            })
            .await
    }

    /// POSTs the token to the endpoint; the answer's JSON object.
    async fn ask(&self, token: &str) -> Result<Map<String, Value>, VerifyError> {
        let endpoint = self.endpoint().await?;
        // The serializer is not `Send`: it must be gone before the await.
        let body = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", token)
                .append_pair("token_type_hint", "access_token");
            if self.client_auth == ClientAuth::ClientSecretPost {
                form.append_pair("client_id", &self.client_id)
                    .append_pair("client_secret", self.client_secret.expose_secret());
            }
            form.finish()
        };
        let basic = (self.client_auth == ClientAuth::ClientSecretBasic).then(|| {
            // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
            let encode =
                |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            (
                encode(&self.client_id),
                encode(self.client_secret.expose_secret()),
            )
        });
        let answer = self
            .idp
            .post_form(endpoint, "introspection", |request| {
                let request = request
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body);
                match basic {
                    Some((id, secret)) => request.basic_auth(id, Some(secret)),
                    None => request,
                }
            })
            .await
            .map_err(|e| {
                // A 401 here is box-mcp's own credentials, not the caller's token.
                tracing::warn!(error = %e, "token introspection failed");
                VerifyError::IdpUnavailable(format!("token introspection: {e}"))
            })?;
        serde_json::from_slice::<Map<String, Value>>(&answer).map_err(|e| {
            tracing::warn!(error = %e, "the introspection answer is not a JSON object");
            VerifyError::IdpUnavailable("the introspection answer is not a JSON object".into())
        })
    }

    /// Answers cached now (metrics, tests).
    pub fn cached_entries(&self) -> u64 {
        self.active.run_pending_tasks();
        self.active.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com/realms/r";
    const RESOURCE: &str = "https://mcp.example.com/mcp";

    fn introspector() -> Introspector {
        let config = IntrospectionConfig {
            enabled: true,
            endpoint: Some("https://idp.example.com/introspect".into()),
            client_id: Some("box-mcp".into()),
            client_secret: Some("s".to_string().into()),
            ..IntrospectionConfig::default()
        };
        Introspector::new(
            &config,
            IntrospectionContext {
                idp: IdpClient::new(ISSUER, Duration::from_secs(1)).unwrap(),
                issuer: ISSUER.into(),
                audiences: vec![RESOURCE.into()],
                claims: crate::auth::ClaimsConfig::default().resolve(),
                leeway: Duration::from_secs(30),
                allow_insecure_http: false,
            },
        )
        .unwrap()
    }

    fn active(extra: Value) -> Map<String, Value> {
        let mut answer = json!({
            "active": true,
            "iss": ISSUER,
            "aud": ["account", RESOURCE],
            "sub": "u-1",
            "exp": unix_now() + 300,
            "iat": unix_now(),
            "scope": "openid mcp:tools",
            "realm_access": { "roles": ["mcp-reader"] },
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                answer.as_object_mut().unwrap().remove(k);
            } else {
                answer[k] = v.clone();
            }
        }
        answer.as_object().unwrap().clone()
    }

    #[test]
    fn an_active_answer_gives_the_principal_with_roles_and_scopes() {
        let principal = introspector().judge(&active(json!({}))).unwrap();
        assert_eq!(principal.subject, "u-1");
        assert_eq!(principal.roles, vec!["mcp-reader".to_string()]);
        assert!(principal.scopes.iter().any(|s| s == "mcp:tools"));
    }

    #[test]
    fn every_check_a_jwt_gets_applies_to_the_answer() {
        let i = introspector();
        let cases = [
            (json!({"active": false}), TokenRejection::Inactive),
            (json!({"active": "true"}), TokenRejection::Inactive),
            (json!({"active": null}), TokenRejection::Inactive),
            (
                json!({"iss": "https://evil.example.com"}),
                TokenRejection::WrongIssuer,
            ),
            (json!({"iss": [ISSUER]}), TokenRejection::WrongIssuer),
            (
                json!({"aud": "https://other.example.com/mcp"}),
                TokenRejection::WrongAudience,
            ),
            (json!({"aud": null}), TokenRejection::WrongAudience),
            (json!({"exp": null}), TokenRejection::InvalidClaim("exp")),
            (json!({"exp": unix_now() - 3600}), TokenRejection::Expired),
            (
                json!({"exp": u64::MAX}),
                TokenRejection::InvalidClaim("exp"),
            ),
            (
                json!({"iat": unix_now() + 3600}),
                TokenRejection::IssuedInTheFuture,
            ),
            (
                json!({"nbf": unix_now() + 3600}),
                TokenRejection::NotYetValid,
            ),
            (
                json!({"cnf": {"x5t#S256": "abc"}}),
                TokenRejection::SenderConstrained,
            ),
            (json!({"cnf": "jkt"}), TokenRejection::SenderConstrained),
            (
                json!({"cnf": {"jkt": "a", "x5t#S256": "b"}}),
                TokenRejection::SenderConstrained,
            ),
            (json!({"sub": null}), TokenRejection::InvalidClaim("sub")),
            (json!({"sub": ""}), TokenRejection::InvalidClaim("sub")),
        ];
        for (change, expected) in cases {
            let got = i.judge(&active(change.clone())).map(|p| p.subject);
            assert_eq!(got, Err(expected), "{change}");
        }
    }
}
