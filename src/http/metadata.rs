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
        }
    }
}
