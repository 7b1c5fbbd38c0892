//! The mapping file: IdP identities → Box user ids, for `box.user_mapping = "file"`.
//!
//! TOML (`.toml`) or JSON (any other extension), three optional tables, looked
//! up in this order: the token's `sub` (stable; prefer it), its username, its
//! email (compared case-insensitively):
//!
//! ```toml
//! [subjects]
//! "6f1c2a9e-…" = "31000001"
//! [usernames]
//! bob = "31000002"
//! [emails]
//! "carol@example.com" = 31000003
//! ```
//!
//! Only map usernames or emails when the IdP does not let users choose them.

use std::{collections::HashMap, path::Path};

use serde::Deserialize;

use super::error::BrokerError;
use crate::{auth::Principal, box_api::BoxId};

const KEY: &str = "box.mapping_file";

#[derive(Debug, Clone, Default)]
pub struct MappingFile {
    subjects: HashMap<String, String>,
    usernames: HashMap<String, String>,
    /// Keys lower-cased.
    emails: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    subjects: HashMap<String, RawId>,
    #[serde(default)]
    usernames: HashMap<String, RawId>,
    #[serde(default)]
    emails: HashMap<String, RawId>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Text(String),
    Number(u64),
}

impl RawId {
    fn into_string(self) -> String {
        match self {
            Self::Text(s) => s.trim().to_string(),
            Self::Number(n) => n.to_string(),
        }
    }
}

impl MappingFile {
    pub fn load(path: &Path) -> Result<Self, BrokerError> {
        let text = crate::setting::read_config_text(path).map_err(|e| {
            BrokerError::config(KEY, format!("cannot read {}: {e}", path.display()))
        })?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        Self::parse(&text, is_toml)
            .map_err(|message| BrokerError::config(KEY, format!("{}: {message}", path.display())))
    }

    pub fn parse(text: &str, is_toml: bool) -> Result<Self, String> {
        let raw: Raw = if is_toml {
            toml::from_str(text).map_err(|e| e.message().to_string())?
        } else {
            serde_json::from_str(text).map_err(|e| e.to_string())?
        };
        let check = |table: &str, map: HashMap<String, RawId>, lower: bool| {
            map.into_iter()
                .map(|(who, id)| {
                    let id = id.into_string();
                    if !BoxId::is_valid(&id) {
                        return Err(format!(
                            "{table}.{who:?} = {id:?} is not a Box user id (digits)"
                        ));
                    }
                    Ok((if lower { who.to_lowercase() } else { who }, id))
                })
                .collect::<Result<HashMap<_, _>, String>>()
        };
        Ok(Self {
            subjects: check("subjects", raw.subjects, false)?,
            usernames: check("usernames", raw.usernames, false)?,
            emails: check("emails", raw.emails, true)?,
        })
    }

    /// The Box user for this caller: by subject, then username, then email.
    pub fn lookup(&self, caller: &Principal) -> Option<&str> {
        self.subjects
            .get(&caller.subject)
            .or_else(|| caller.username.as_ref().and_then(|u| self.usernames.get(u)))
            .or_else(|| {
                caller
                    .verified_email()
                    .and_then(|e| self.emails.get(&e.to_lowercase()))
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn principal(sub: &str, username: Option<&str>, email: Option<&str>) -> Principal {
        Principal {
            issuer: "https://idp".into(),
            subject: sub.into(),
            username: username.map(Into::into),
            email: email.map(Into::into),
            email_verified: email.is_some(),
            client_id: None,
            roles: vec![],
            groups: vec![],
            scopes: vec![],
            box_user_id: None,
            valid_until: 0,
            bound_key: None,
        }
    }

    #[test]
    fn toml_and_json_map_subject_username_and_email() {
        let toml = r#"
            [subjects]
            "sub-a" = "31000001"
            [usernames]
            bob = 31000002
            [emails]
            "Carol@Example.com" = "31000003"
        "#;
        let json = r#"{"subjects": {"sub-a": "31000001"}, "usernames": {"bob": 31000002},
                       "emails": {"Carol@Example.com": "31000003"}}"#;
        for m in [
            MappingFile::parse(toml, true).unwrap(),
            MappingFile::parse(json, false).unwrap(),
        ] {
            assert_eq!(m.lookup(&principal("sub-a", None, None)), Some("31000001"));
            assert_eq!(
                m.lookup(&principal("x", Some("bob"), None)),
                Some("31000002")
            );
            assert_eq!(
                m.lookup(&principal("x", Some("nobody"), Some("carol@example.COM"))),
                Some("31000003")
            );
            assert_eq!(m.lookup(&principal("x", Some("eve"), None)), None);
            // Only a verified email counts.
            let mut unverified = principal("x", Some("nobody"), Some("carol@example.com"));
            unverified.email_verified = false;
            assert_eq!(m.lookup(&unverified), None);
        }
    }

    #[test]
    fn subject_wins_over_username() {
        let m = MappingFile::parse(
            r#"{"subjects": {"s": "1"}, "usernames": {"u": "2"}}"#,
            false,
        )
        .unwrap();
        assert_eq!(m.lookup(&principal("s", Some("u"), None)), Some("1"));
    }

    #[test]
    fn bad_ids_and_unknown_tables_are_refused() {
        let err = MappingFile::parse(r#"{"subjects": {"s": "../1"}}"#, false).unwrap_err();
        assert!(err.contains("not a Box user id"), "{err}");
        assert!(MappingFile::parse(r#"{"users": {}}"#, false).is_err());
        assert!(MappingFile::parse("[subjects]\ns = [1]", true).is_err());
    }
}
