//! RFC 9728 OAuth 2.0 Protected Resource Metadata.

use serde::Serialize;

use super::PublicUrls;

#[derive(Debug, Serialize)]
pub struct ProtectedResourceMetadata {
    pub resource: String,
    pub authorization_servers: Vec<String>,
    pub scopes_supported: Vec<String>,
    pub bearer_methods_supported: Vec<&'static str>,
    pub resource_name: String,
    /// RFC 9728 §2 / RFC 9449 §5.1: present when DPoP is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpop_signing_alg_values_supported: Option<Vec<&'static str>>,
    /// Present (and `true`) when only DPoP-bound tokens are accepted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens_required: bool,
}

impl ProtectedResourceMetadata {
    pub fn new(urls: &PublicUrls, issuer: &str, scopes: &[String], name: &str) -> Self {
        Self {
            resource: urls.resource.clone(),
            authorization_servers: vec![issuer.to_string()],
            // RFC 9728 / MCP 2026-07-28: the minimal set, never offline_access.
            scopes_supported: scopes
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .collect(),
            bearer_methods_supported: vec!["header"],
            resource_name: name.to_string(),
            dpop_signing_alg_values_supported: None,
            dpop_bound_access_tokens_required: false,
        }
    }

    /// Publishes DPoP's algorithms, and whether DPoP-bound tokens are required.
    pub fn with_dpop(mut self, algorithms: Vec<&'static str>, required: bool) -> Self {
        self.dpop_signing_alg_values_supported = Some(algorithms);
        self.dpop_bound_access_tokens_required = required;
        self
    }
}
