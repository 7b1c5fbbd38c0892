//! The caller as the server sees it, read from a verified token's claims through
//! the configured claim paths.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ClaimPaths;

/// A verified caller. Holds no token: it is safe to log, return and cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Principal {
    /// The issuer that vouched for this caller.
    pub issuer: String,
    /// The stable subject identifier (`sub`).
    pub subject: String,
    pub username: Option<String>,
    pub email: Option<String>,
    /// Whether the IdP says it verified `email` (`email_verified`). Only a verified
    /// email maps a Box user ([`Principal::verified_email`]).
    pub email_verified: bool,
    /// The OAuth client the token was issued to (`azp`).
    pub client_id: Option<String>,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub scopes: Vec<String>,
    /// The caller's Box user, when the token maps one.
    pub box_user_id: Option<String>,
    /// When the token stops being valid (Unix seconds, leeway included).
    #[serde(skip)]
    #[schemars(skip)]
    pub valid_until: u64,
    /// The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6):
    /// such a token is accepted only with a DPoP proof signed by that key.
    #[serde(skip)]
    #[schemars(skip)]
    pub bound_key: Option<String>,
}

impl Principal {
    /// Builds the principal from verified claims. `sub` must be a non-empty string.
    pub fn from_claims(
        issuer: &str,
        claims: &Map<String, Value>,
        paths: &ClaimPaths,
        valid_until: u64,
    ) -> Option<Self> {
        let subject = claims
            .get("sub")?
            .as_str()
            .filter(|s| !s.is_empty())?
            .to_string();
        Some(Self {
            issuer: issuer.to_string(),
            subject,
            username: paths.username.iter().find_map(|p| scalar(claims, p)),
            email: scalar(claims, &paths.email),
            email_verified: lookup(claims, &paths.email_verified)
                .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true")),
            client_id: paths.client_id.iter().find_map(|p| scalar(claims, p)),
            roles: string_list(claims, &paths.roles),
            groups: string_list(claims, &paths.groups),
            scopes: scope_list(claims, &paths.scope),
            box_user_id: scalar(claims, &paths.box_user),
            valid_until,
            bound_key: claims
                .get("cnf")
                .and_then(|cnf| cnf.get("jkt"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// The email, if the IdP verified it: what email-based Box user mapping may use.
    pub fn verified_email(&self) -> Option<&str> {
        self.email.as_deref().filter(|_| self.email_verified)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Finds a claim by path: the whole path as one claim name first (Auth0's
/// namespaced claims contain dots), then a dot-separated walk.
fn lookup<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// A string or number claim, as a string (Box user ids may be either).
fn scalar(claims: &Map<String, Value>, path: &str) -> Option<String> {
    match lookup(claims, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The union of string arrays (or single strings) found at the paths, in order, without duplicates.
fn string_list(claims: &Map<String, Value>, paths: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    for path in paths {
        match lookup(claims, path) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).for_each(&mut push),
            Some(Value::String(s)) => push(s),
            _ => {}
        }
    }
    out
}

/// OAuth scopes: a space-delimited string (`scope`) or an array (`scp`).
fn scope_list(claims: &Map<String, Value>, paths: &[String]) -> Vec<String> {
    for path in paths {
        match lookup(claims, path) {
            Some(Value::String(s)) => return s.split_whitespace().map(String::from).collect(),
            Some(Value::Array(items)) => {
                return items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect();
            }
            _ => {}
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::{ClaimPreset, ClaimsConfig};

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn keycloak_token_maps_roles_groups_and_box_user() {
        let paths = ClaimsConfig::default().resolve();
        let c = claims(json!({
            "sub": "u-1", "preferred_username": "alice", "email": "a@example.com", "azp": "mcp-client",
            "scope": "openid mcp:tools email",
            "realm_access": {"roles": ["mcp-admin", "mcp-editor"]},
            "resource_access": {"box-mcp": {"roles": ["auditor", "mcp-admin"]}},
            "groups": ["/mcp-admins"], "box_user_id": 31000001
        }));
        let p = Principal::from_claims("https://idp", &c, &paths, 10).unwrap();
        assert_eq!(p.subject, "u-1");
        assert_eq!(p.username.as_deref(), Some("alice"));
        assert_eq!(p.client_id.as_deref(), Some("mcp-client"));
        assert_eq!(p.roles, vec!["mcp-admin", "mcp-editor", "auditor"]);
        assert_eq!(p.groups, vec!["/mcp-admins"]);
        assert_eq!(p.scopes, vec!["openid", "mcp:tools", "email"]);
        assert_eq!(p.box_user_id.as_deref(), Some("31000001"));
    }

    #[test]
    fn auth0_token_maps_namespaced_roles_and_permissions() {
        let paths = ClaimsConfig {
            preset: ClaimPreset::Auth0,
            ..Default::default()
        }
        .resolve();
        let c = claims(json!({
            "sub": "auth0|42", "https://box-mcp/roles": ["mcp-viewer"],
            "permissions": ["mcp:tools"], "scope": "openid mcp:tools", "azp": "abc"
        }));
        let p = Principal::from_claims("https://t.auth0.com/", &c, &paths, 10).unwrap();
        assert_eq!(p.roles, vec!["mcp-viewer", "mcp:tools"]);
        assert!(p.has_scope("mcp:tools"));
    }

    #[test]
    fn only_an_email_the_idp_verified_counts_for_mapping() {
        let paths = ClaimsConfig::default().resolve();
        for (verified, counts) in [
            (json!(true), true),
            (json!("true"), true),
            (json!(false), false),
            (json!("yes"), false),
            (json!(1), false),
            (Value::Null, false),
        ] {
            let mut c = json!({"sub": "s", "email": "a@example.com"});
            if !verified.is_null() {
                c["email_verified"] = verified.clone();
            }
            let p = Principal::from_claims("i", &claims(c), &paths, 0).unwrap();
            assert_eq!(p.email.as_deref(), Some("a@example.com"));
            assert_eq!(p.verified_email().is_some(), counts, "{verified}");
        }
    }

    #[test]
    fn missing_or_empty_subject_is_refused() {
        let paths = ClaimsConfig::default().resolve();
        assert!(Principal::from_claims("i", &claims(json!({"sub": ""})), &paths, 0).is_none());
        assert!(Principal::from_claims("i", &claims(json!({"sub": 5})), &paths, 0).is_none());
        assert!(Principal::from_claims("i", &claims(json!({})), &paths, 0).is_none());
    }

    #[test]
    fn scp_array_is_read_when_scope_is_absent() {
        let paths = ClaimsConfig::default().resolve();
        let p = Principal::from_claims(
            "i",
            &claims(json!({"sub": "s", "scp": ["a", "b"]})),
            &paths,
            0,
        )
        .unwrap();
        assert_eq!(p.scopes, vec!["a", "b"]);
    }
}
