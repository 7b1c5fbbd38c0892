//! Client-id patterns: a set of globs matched against the OAuth client a token was
//! issued to (`azp`), for settings that treat some clients differently.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::Principal;
use crate::setting::InvalidSetting;

/// Globs over whole client ids: `*` matches any run of characters (`/` included, so
/// a CIMD client id such as `https://vscode.dev/*` works), `?` one character.
#[derive(Debug, Clone, Default)]
pub struct ClientPatterns {
    set: Option<GlobSet>,
}

impl ClientPatterns {
    pub const SETTING: &'static str = "auth.tool_error_on_insufficient_scope";

    pub fn new(patterns: &[String]) -> Result<Self, InvalidSetting> {
        if patterns.is_empty() {
            return Ok(Self::default());
        }
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in patterns.iter().enumerate() {
            if pattern.trim().is_empty() {
                return Err(InvalidSetting::new(
                    Self::SETTING,
                    format!("entry {i} is empty"),
                ));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    InvalidSetting::new(Self::SETTING, format!("entry {i} ({pattern:?}): {e}"))
                })?;
            builder.add(glob);
        }
        let set = builder
            .build()
            .map_err(|e| InvalidSetting::new(Self::SETTING, e))?;
        Ok(Self { set: Some(set) })
    }

    /// Whether the caller's client matches; a token without a client id never does.
    pub fn matches(&self, principal: &Principal) -> bool {
        match (&self.set, principal.client_id.as_deref()) {
            (Some(set), Some(client)) => set.is_match(client),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(client: Option<&str>) -> Principal {
        Principal {
            issuer: "https://idp.example".into(),
            subject: "u-1".into(),
            username: None,
            email: None,
            email_verified: false,
            client_id: client.map(str::to_owned),
            roles: vec![],
            groups: vec![],
            scopes: vec![],
            box_user_id: None,
            valid_until: 0,
            bound_key: None,
        }
    }

    fn patterns(p: &[&str]) -> ClientPatterns {
        ClientPatterns::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn globs_match_whole_client_ids() {
        let p = patterns(&["legacy-*", "https://vscode.dev/*", "exact"]);
        assert!(p.matches(&caller(Some("legacy-client-7"))));
        assert!(p.matches(&caller(Some("https://vscode.dev/oauth/client.json"))));
        assert!(p.matches(&caller(Some("exact"))));
        assert!(!p.matches(&caller(Some("exactly"))));
        assert!(!p.matches(&caller(Some("my-legacy-client"))));
        assert!(!p.matches(&caller(None)));
    }

    #[test]
    fn no_patterns_match_nothing() {
        let p = patterns(&[]);
        assert!(!p.matches(&caller(Some("anything"))));
    }

    #[test]
    fn bad_patterns_are_named() {
        let err = ClientPatterns::new(&["ok".into(), "broken[".into()]).unwrap_err();
        assert!(err.to_string().contains("entry 1"), "{err}");
        let err = ClientPatterns::new(&[" ".into()]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
