//! Talking to the identity provider: the OIDC discovery document and the JWKS.
//!
//! Every call is bounded: no redirects, a timeout, and a cap on the body size, so a
//! broken or hostile IdP answer becomes an [`IdpError`], never a hang.

use crate::metrics::{self, Answered};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use openidconnect::core::CoreProviderMetadata;
use reqwest::header::{ACCEPT, CACHE_CONTROL};
use serde::Deserialize;
use url::Url;

use crate::outbound::error_chain;

/// Largest IdP document we read; real ones are a few KiB.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, thiserror::Error)]
pub enum IdpError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} returned an invalid document: {reason}")]
    InvalidDocument { url: String, reason: String },
    #[error("the discovery document names issuer {found:?}, not the configured {expected:?}")]
    IssuerMismatch { expected: String, found: String },
    #[error("the JWKS at {0} holds no key usable with the accepted algorithms")]
    NoUsableKeys(String),
}

/// The parts of the discovery document the server uses.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub jwks_uri: Url,
    /// RFC 8414 / RFC 7662 `introspection_endpoint`, if the IdP publishes one.
    pub introspection_endpoint: Option<Url>,
}

/// A fetched key set with the freshness the IdP asked for.
#[derive(Debug)]
pub struct FetchedJwks {
    /// The keys that parsed; one malformed key must not hide the others.
    pub keys: Vec<Jwk>,
    /// How many entries could not be parsed as a JWK.
    pub skipped: usize,
    /// `Cache-Control: max-age`, if the IdP sent one.
    pub max_age: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct IdpClient {
    http: reqwest::Client,
    issuer: String,
}

impl IdpClient {
    pub fn new(issuer: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!("box-mcp/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            issuer: issuer.to_string(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Fetches `<issuer>/.well-known/openid-configuration` and checks that its
    /// `issuer` is the configured one, byte for byte (OIDC Discovery §4.3).
    pub async fn discover(&self) -> Result<Discovery, IdpError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (body, _) = self.get(&url, "discovery").await?;
        let metadata: CoreProviderMetadata =
            serde_json::from_slice(&body).map_err(|e| IdpError::InvalidDocument {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let found = metadata.issuer().as_str();
        if found != self.issuer {
            return Err(IdpError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: found.to_string(),
            });
        }
        // Not in openidconnect's core metadata: read from the same document.
        #[derive(Deserialize)]
        struct Extra {
            introspection_endpoint: Option<Url>,
        }
        let extra: Extra =
            serde_json::from_slice(&body).map_err(|e| IdpError::InvalidDocument {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Discovery {
            jwks_uri: metadata.jwks_uri().url().clone(),
            introspection_endpoint: extra.introspection_endpoint,
        })
    }

    pub async fn fetch_jwks(&self, jwks_uri: &Url) -> Result<FetchedJwks, IdpError> {
        let url = jwks_uri.as_str();
        let (body, max_age) = self.get(url, "jwks").await?;
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<serde_json::Value>,
        }
        let raw: RawSet = serde_json::from_slice(&body).map_err(|e| IdpError::InvalidDocument {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        let total = raw.keys.len();
        let keys: Vec<Jwk> = raw
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value(k).ok())
            .collect();
        Ok(FetchedJwks {
            skipped: total - keys.len(),
            keys,
            max_age,
        })
    }

    async fn get(
        &self,
        url: &str,
        call: &'static str,
    ) -> Result<(Vec<u8>, Option<Duration>), IdpError> {
        let started = std::time::Instant::now();
        let result = self.get_once(url).await;
        record(call, &result, started);
        result
    }

    /// A form POST (`request` has its URL, body and client authentication), its
    /// answer read like a document: for the calls that authenticate box-mcp.
    pub async fn post_form(
        &self,
        url: &Url,
        call: &'static str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, IdpError> {
        let started = std::time::Instant::now();
        let request = build(
            self.http
                .post(url.clone())
                .header(ACCEPT, "application/json"),
        );
        let result = match request.send().await {
            Ok(response) => Self::read(url.as_str(), response).await.map(|(b, _)| b),
            Err(e) => Err(IdpError::Unreachable {
                url: url.to_string(),
                reason: error_chain(&e),
            }),
        };
        record(call, &result, started);
        result
    }

    async fn get_once(&self, url: &str) -> Result<(Vec<u8>, Option<Duration>), IdpError> {
        let response = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| IdpError::Unreachable {
                url: url.to_string(),
                reason: error_chain(&e),
            })?;
        Self::read(url, response).await
    }

    /// A successful answer's body (at most [`MAX_DOCUMENT_BYTES`]) and its
    /// `Cache-Control: max-age`.
    async fn read(
        url: &str,
        mut response: reqwest::Response,
    ) -> Result<(Vec<u8>, Option<Duration>), IdpError> {
        let unreachable = |e: reqwest::Error| IdpError::Unreachable {
            url: url.to_string(),
            reason: error_chain(&e),
        };
        if !response.status().is_success() {
            return Err(IdpError::Status {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
        }
        let max_age = response
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(IdpError::InvalidDocument {
                    url: url.to_string(),
                    reason: format!("larger than {MAX_DOCUMENT_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// Counts and times one IdP call by what it got.
fn record<T>(call: &'static str, result: &Result<T, IdpError>, started: std::time::Instant) {
    let answered = match result {
        Ok(_) => Answered::Status(200),
        Err(IdpError::Status { status, .. }) => Answered::Status(*status),
        Err(_) => Answered::NoAnswer,
    };
    metrics::idp_request(call, answered, started.elapsed());
}

fn parse_max_age(cache_control: &str) -> Option<Duration> {
    // `no-cache`/`no-store` give no usable lifetime (Keycloak sends `no-cache`):
    // the default interval applies, and unknown `kid`s refresh on demand.
    if cache_control
        .split(',')
        .any(|d| matches!(d.trim(), "no-store" | "no-cache"))
    {
        return None;
    }
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.eq_ignore_ascii_case("max-age").then(|| {
            value
                .trim_matches('"')
                .parse()
                .ok()
                .map(Duration::from_secs)
        })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_max_age("no-cache"), None);
        assert_eq!(parse_max_age("no-store, max-age=60"), None);
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=abc"), None);
    }
}
