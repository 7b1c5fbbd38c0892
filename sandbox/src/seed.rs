//! The seed: the state the sandbox starts from (`fixtures/seed.json`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The fixture shipped with the crate.
pub const BUILTIN_SEED: &str = include_str!("../fixtures/seed.json");

/// Where the seed comes from.
#[derive(Debug, Clone, Default)]
pub enum SeedSource {
    /// `fixtures/seed.json`, compiled in.
    #[default]
    Builtin,
    /// A seed file.
    Path(PathBuf),
    /// A seed given as JSON (for tests that need a variant).
    Value(Value),
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("cannot read the seed file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the seed is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the seed is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seed {
    pub enterprise: SeedEnterprise,
    pub service_account: SeedUser,
    pub users: Vec<SeedUser>,
    pub apps: Vec<SeedApp>,
    #[serde(default)]
    pub folders: Vec<SeedFolder>,
    #[serde(default)]
    pub files: Vec<SeedFile>,
    #[serde(default)]
    pub collaborations: Vec<SeedCollaboration>,
    #[serde(default)]
    pub metadata_templates: Vec<SeedTemplate>,
    #[serde(default)]
    pub metadata: Vec<SeedMetadata>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedEnterprise {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedUser {
    pub id: String,
    pub name: String,
    pub login: String,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default)]
    pub job_title: String,
    #[serde(default = "default_time")]
    pub created_at: String,
    /// Which Box account this is: a managed user of the seed's enterprise (the
    /// default), a user of another enterprise, or a free personal account.
    #[serde(default)]
    pub account: SeedAccount,
    /// The password of the sandbox's login page (`/api/oauth2/authorize`). Without
    /// one the user cannot sign in there.
    #[serde(default)]
    pub password: Option<String>,
}

/// The enterprise a user belongs to, as the seed states it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SeedAccount {
    /// A managed user of the seed's enterprise: the apps' CCG/JWT user tokens and
    /// `As-User` reach them.
    #[default]
    Managed,
    /// A user of another enterprise: reachable only through their own OAuth 2.0 login.
    OtherEnterprise { enterprise: SeedEnterprise },
    /// A free personal account, in no enterprise.
    Personal,
}

fn default_role() -> String {
    "user".into()
}

fn default_time() -> String {
    "2026-01-01T00:00:00+00:00".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppAuth {
    ClientCredentials,
    Jwt,
    /// A "User Authentication (OAuth 2.0)" app: users sign in and consent at
    /// `/api/oauth2/authorize`; tokens come from the authorization code and refresh
    /// token grants.
    #[serde(rename = "oauth2")]
    OAuth2,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedApp {
    pub client_id: String,
    pub client_secret: String,
    pub auth: AppAuth,
    pub scopes: Vec<String>,
    /// "Generate user access tokens": user subjects allowed.
    #[serde(default)]
    pub user_tokens: bool,
    /// "Perform actions as users": `As-User` allowed on the service account's tokens.
    #[serde(default)]
    pub as_user: bool,
    #[serde(default)]
    pub public_keys: Vec<SeedPublicKey>,
    /// OAuth 2.0 apps: the registered redirect URIs (matched exactly).
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedPublicKey {
    pub kid: String,
    pub pem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedFolder {
    pub id: String,
    pub name: String,
    pub owner: String,
    /// `None`: in the owner's root folder.
    pub parent: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_time")]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedFile {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub parent: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_time")]
    pub created_at: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedItemRef {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedCollaboration {
    pub id: String,
    pub item: SeedItemRef,
    pub user: String,
    pub role: String,
    pub created_by: String,
    #[serde(default = "default_time")]
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedTemplate {
    pub id: String,
    #[serde(rename = "templateKey")]
    pub template_key: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(default)]
    pub hidden: bool,
    pub fields: Vec<SeedTemplateField>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedTemplateField {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub key: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(default)]
    pub options: Vec<SeedOption>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedOption {
    pub id: String,
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeedMetadata {
    pub id: String,
    pub file: String,
    pub template: String,
    pub values: Map<String, Value>,
}

impl Seed {
    /// Load a seed from its source.
    pub fn load(source: &SeedSource) -> Result<Seed, SeedError> {
        let seed: Seed = match source {
            SeedSource::Builtin => serde_json::from_str(BUILTIN_SEED)?,
            SeedSource::Path(path) => Self::read(path)?,
            SeedSource::Value(value) => serde_json::from_value(value.clone())?,
        };
        seed.check()?;
        Ok(seed)
    }

    fn read(path: &Path) -> Result<Seed, SeedError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeedError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    /// The builtin seed, parsed.
    pub fn builtin() -> Result<Seed, SeedError> {
        Self::load(&SeedSource::Builtin)
    }

    /// Referential checks: every owner, parent and collaborator exists.
    fn check(&self) -> Result<(), SeedError> {
        let user_ok =
            |id: &str| self.service_account.id == id || self.users.iter().any(|u| u.id == id);
        let folder_ok = |id: &str| self.folders.iter().any(|f| f.id == id);
        let bad = |what: String| Err(SeedError::Invalid(what));
        let mut ids = std::collections::HashSet::new();
        for f in &self.folders {
            if !ids.insert(f.id.as_str()) {
                return bad(format!("duplicate item id {}", f.id));
            }
            if !user_ok(&f.owner) {
                return bad(format!("folder {} has unknown owner {}", f.id, f.owner));
            }
            if let Some(p) = &f.parent
                && !folder_ok(p)
            {
                return bad(format!("folder {} has unknown parent {p}", f.id));
            }
        }
        for f in &self.files {
            if !ids.insert(f.id.as_str()) {
                return bad(format!("duplicate item id {}", f.id));
            }
            if !user_ok(&f.owner) {
                return bad(format!("file {} has unknown owner {}", f.id, f.owner));
            }
            if let Some(p) = &f.parent
                && !folder_ok(p)
            {
                return bad(format!("file {} has unknown parent {p}", f.id));
            }
        }
        for c in &self.collaborations {
            if !user_ok(&c.user) || !user_ok(&c.created_by) {
                return bad(format!("collaboration {} names an unknown user", c.id));
            }
            if !ids.contains(c.item.id.as_str()) {
                return bad(format!("collaboration {} names an unknown item", c.id));
            }
        }
        for a in &self.apps {
            if a.auth != AppAuth::OAuth2 && !a.redirect_uris.is_empty() {
                return bad(format!(
                    "app {} has redirect_uris but is not an oauth2 app",
                    a.client_id
                ));
            }
            for uri in &a.redirect_uris {
                if url::Url::parse(uri).is_err() {
                    return bad(format!(
                        "app {}: redirect URI {uri:?} is not a URL",
                        a.client_id
                    ));
                }
            }
        }
        for m in &self.metadata {
            if !self.files.iter().any(|f| f.id == m.file) {
                return bad(format!("metadata {} is on an unknown file", m.id));
            }
            if !self
                .metadata_templates
                .iter()
                .any(|t| t.template_key == m.template)
            {
                return bad(format!("metadata {} uses an unknown template", m.id));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_seed_matches_the_contract() {
        let seed = Seed::builtin().expect("builtin seed loads");
        assert_eq!(seed.enterprise.id, "1100000");
        assert_eq!(seed.service_account.id, "31000000");
        let ids: Vec<_> = seed.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "31000001", "31000002", "31000003", "31000004", "31000005", "31000006", "41000001",
                "51000001"
            ]
        );
        let accounts: Vec<_> = seed.users.iter().map(|u| &u.account).collect();
        assert!(accounts[..6].iter().all(|a| **a == SeedAccount::Managed));
        assert!(matches!(accounts[6], SeedAccount::OtherEnterprise { .. }));
        assert_eq!(*accounts[7], SeedAccount::Personal);
        assert!(seed.users.iter().all(|u| u.password.is_some()));
        let oauth = seed
            .apps
            .iter()
            .find(|a| a.auth == AppAuth::OAuth2)
            .expect("an OAuth 2.0 app");
        assert_eq!(oauth.client_id, "sandbox-oauth-app");
        let ccg = seed
            .apps
            .iter()
            .find(|a| a.client_id == "sandbox-ccg-app")
            .expect("ccg app");
        assert_eq!(ccg.client_secret, "sandbox-ccg-secret");
        assert!(ccg.user_tokens && ccg.as_user);
        let jwt = seed
            .apps
            .iter()
            .find(|a| a.client_id == "sandbox-jwt-app")
            .expect("jwt app");
        assert_eq!(jwt.public_keys[0].kid, "sandbox-jwt-key");
        for user in &seed.users {
            let exts: Vec<_> = seed
                .files
                .iter()
                .filter(|f| f.owner == user.id)
                .filter_map(|f| f.name.rsplit_once('.').map(|(_, e)| e))
                .collect();
            for ext in ["txt", "md", "csv", "json"] {
                assert!(exts.contains(&ext), "{} lacks a .{ext} file", user.name);
            }
        }
    }

    #[test]
    fn inconsistent_seeds_are_refused() {
        let mut value: Value = serde_json::from_str(BUILTIN_SEED).unwrap();
        value["files"][0]["parent"] = Value::String("999".into());
        assert!(matches!(
            Seed::load(&SeedSource::Value(value)),
            Err(SeedError::Invalid(_))
        ));
        assert!(matches!(
            Seed::load(&SeedSource::Value(serde_json::json!({"x": 1}))),
            Err(SeedError::Parse(_))
        ));
    }
}
