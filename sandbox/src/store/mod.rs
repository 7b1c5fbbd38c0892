//! The sandbox's in-memory Box: users, apps, items, collaborations, metadata.
//!
//! Everything here is plain data plus the rules that do not depend on who holds
//! which token: the tree, who may see what (`access`), and name clashes. Handlers
//! hold the lock only for the length of one operation.

mod access;
mod collaborations;
mod metadata;
mod tree;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};

pub use access::{Access, Perms, Role};
pub use metadata::{MetadataError, PatchOp};
pub use tree::{Container, NewItem, StoreError};

use crate::{
    ids,
    seed::{AppAuth, Seed, SeedAccount, SeedError},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    File,
    Folder,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::File => "file",
            ItemKind::Folder => "folder",
        }
    }

    pub fn parse(s: &str) -> Option<ItemKind> {
        match s {
            "file" => Some(ItemKind::File),
            "folder" => Some(ItemKind::Folder),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub login: String,
    pub role: String,
    pub job_title: String,
    pub created_at: String,
    pub service_account: bool,
    pub account: SeedAccount,
    pub password: Option<String>,
}

impl User {
    /// A managed user of the sandbox's enterprise (the service account is one too):
    /// the only users that CCG/JWT user tokens, `As-User` and `GET /users` reach.
    pub fn is_managed(&self) -> bool {
        self.account == SeedAccount::Managed
    }
}

#[derive(Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub auth: AppAuth,
    pub scopes: BTreeSet<String>,
    pub user_tokens: bool,
    pub as_user: bool,
    /// `(kid, key)` pairs for JWT assertions.
    pub keys: Vec<(String, DecodingKey)>,
    /// OAuth 2.0 apps: the registered redirect URIs, matched exactly.
    pub redirect_uris: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct FileData {
    pub content: Bytes,
    pub sha1: String,
    pub version_id: String,
    pub version_number: u64,
}

#[derive(Debug, Clone)]
pub struct SharedLink {
    pub key: String,
    pub access: String,
    pub can_download: bool,
    pub can_preview: bool,
    pub can_edit: bool,
    pub password: bool,
    pub unshared_at: Option<String>,
    pub vanity_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub kind: ItemKind,
    pub name: String,
    pub description: String,
    /// `None`: in the owner's root folder.
    pub parent: Option<String>,
    pub owner: String,
    pub created_by: String,
    pub modified_by: String,
    pub created_at: String,
    pub modified_at: String,
    pub content_created_at: String,
    pub content_modified_at: String,
    pub sequence_id: u64,
    pub etag: u64,
    pub file: Option<FileData>,
    pub shared_link: Option<SharedLink>,
}

impl Item {
    pub fn etag(&self) -> String {
        self.etag.to_string()
    }

    pub fn size(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.content.len() as u64)
    }

    pub fn extension(&self) -> &str {
        match self.name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => ext,
            _ => "",
        }
    }

    /// Mark a change by `by`.
    fn touch(&mut self, by: &str) {
        self.sequence_id += 1;
        self.etag += 1;
        self.modified_by = by.to_string();
        self.modified_at = crate::clock::now();
    }
}

#[derive(Debug, Clone)]
pub struct Collaboration {
    pub id: String,
    pub item: String,
    pub user: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: String,
    pub modified_at: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub key: String,
    pub display_name: String,
    pub hidden: bool,
    pub fields: Vec<TemplateField>,
}

#[derive(Debug, Clone)]
pub struct TemplateField {
    pub id: String,
    pub kind: String,
    pub key: String,
    pub display_name: String,
    /// `(id, key)` pairs.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct MetadataInstance {
    pub id: String,
    pub item: String,
    /// `enterprise_<id>` or `global`.
    pub scope: String,
    pub template: String,
    pub values: Map<String, Value>,
    pub version: u64,
}

pub struct Store {
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub service_account: String,
    pub users: BTreeMap<String, User>,
    pub apps: Vec<App>,
    pub items: BTreeMap<String, Item>,
    pub collaborations: BTreeMap<String, Collaboration>,
    pub templates: Vec<Template>,
    pub metadata: Vec<MetadataInstance>,
    next_id: u64,
}

impl Store {
    pub fn from_seed(seed: &Seed) -> Result<Store, SeedError> {
        let mut users = BTreeMap::new();
        let sa = &seed.service_account;
        users.insert(
            sa.id.clone(),
            User {
                id: sa.id.clone(),
                name: sa.name.clone(),
                login: sa.login.clone(),
                role: "admin".into(),
                job_title: sa.job_title.clone(),
                created_at: sa.created_at.clone(),
                service_account: true,
                account: SeedAccount::Managed,
                password: None,
            },
        );
        for u in &seed.users {
            users.insert(
                u.id.clone(),
                User {
                    id: u.id.clone(),
                    name: u.name.clone(),
                    login: u.login.clone(),
                    role: u.role.clone(),
                    job_title: u.job_title.clone(),
                    created_at: u.created_at.clone(),
                    service_account: false,
                    account: u.account.clone(),
                    password: u.password.clone(),
                },
            );
        }
        let mut apps = Vec::new();
        for a in &seed.apps {
            let mut keys = Vec::new();
            for k in &a.public_keys {
                let key = DecodingKey::from_rsa_pem(k.pem.as_bytes()).map_err(|e| {
                    SeedError::Invalid(format!("app {}: public key {}: {e}", a.client_id, k.kid))
                })?;
                keys.push((k.kid.clone(), key));
            }
            apps.push(App {
                client_id: a.client_id.clone(),
                client_secret: a.client_secret.clone(),
                auth: a.auth,
                scopes: a.scopes.iter().cloned().collect(),
                user_tokens: a.user_tokens,
                as_user: a.as_user,
                keys,
                redirect_uris: a.redirect_uris.clone(),
            });
        }
        let mut items = BTreeMap::new();
        for f in &seed.folders {
            items.insert(
                f.id.clone(),
                Item {
                    id: f.id.clone(),
                    kind: ItemKind::Folder,
                    name: f.name.clone(),
                    description: f.description.clone(),
                    parent: f.parent.clone(),
                    owner: f.owner.clone(),
                    created_by: f.owner.clone(),
                    modified_by: f.owner.clone(),
                    created_at: f.created_at.clone(),
                    modified_at: f.created_at.clone(),
                    content_created_at: f.created_at.clone(),
                    content_modified_at: f.created_at.clone(),
                    sequence_id: 0,
                    etag: 0,
                    file: None,
                    shared_link: None,
                },
            );
        }
        let mut next_id: u64 = 0;
        for f in &seed.files {
            let content = Bytes::from(f.content.clone().into_bytes());
            next_id += 1;
            items.insert(
                f.id.clone(),
                Item {
                    id: f.id.clone(),
                    kind: ItemKind::File,
                    name: f.name.clone(),
                    description: f.description.clone(),
                    parent: f.parent.clone(),
                    owner: f.owner.clone(),
                    created_by: f.owner.clone(),
                    modified_by: f.owner.clone(),
                    created_at: f.created_at.clone(),
                    modified_at: f.created_at.clone(),
                    content_created_at: f.created_at.clone(),
                    content_modified_at: f.created_at.clone(),
                    sequence_id: 0,
                    etag: 0,
                    file: Some(FileData {
                        sha1: ids::sha1_hex(&content),
                        content,
                        version_id: format!("{}", 800_000_000_000u64 + next_id),
                        version_number: 1,
                    }),
                    shared_link: None,
                },
            );
        }
        let mut collaborations = BTreeMap::new();
        for c in &seed.collaborations {
            let role = Role::parse(&c.role).ok_or_else(|| {
                SeedError::Invalid(format!("collaboration {}: unknown role {}", c.id, c.role))
            })?;
            collaborations.insert(
                c.id.clone(),
                Collaboration {
                    id: c.id.clone(),
                    item: c.item.id.clone(),
                    user: c.user.clone(),
                    role,
                    created_by: c.created_by.clone(),
                    created_at: c.created_at.clone(),
                    modified_at: c.created_at.clone(),
                },
            );
        }
        let templates = seed
            .metadata_templates
            .iter()
            .map(|t| Template {
                id: t.id.clone(),
                key: t.template_key.clone(),
                display_name: t.display_name.clone(),
                hidden: t.hidden,
                fields: t
                    .fields
                    .iter()
                    .map(|f| TemplateField {
                        id: f.id.clone(),
                        kind: f.kind.clone(),
                        key: f.key.clone(),
                        display_name: f.display_name.clone(),
                        options: f
                            .options
                            .iter()
                            .map(|o| (o.id.clone(), o.key.clone()))
                            .collect(),
                    })
                    .collect(),
            })
            .collect();
        let enterprise_scope = format!("enterprise_{}", seed.enterprise.id);
        let metadata = seed
            .metadata
            .iter()
            .map(|m| MetadataInstance {
                id: m.id.clone(),
                item: m.file.clone(),
                scope: enterprise_scope.clone(),
                template: m.template.clone(),
                values: m.values.clone(),
                version: 0,
            })
            .collect();
        // New ids start above every numeric id in the seed.
        let max_seed_id = items
            .keys()
            .chain(collaborations.keys())
            .filter_map(|id| id.parse::<u64>().ok())
            .max()
            .unwrap_or(100_000_000_000);
        Ok(Store {
            enterprise_id: seed.enterprise.id.clone(),
            enterprise_name: seed.enterprise.name.clone(),
            service_account: seed.service_account.id.clone(),
            users,
            apps,
            items,
            collaborations,
            templates,
            metadata,
            next_id: max_seed_id + 1,
        })
    }

    /// A fresh numeric id.
    pub fn next_id(&mut self) -> String {
        let id = self.next_id;
        self.next_id += 1;
        id.to_string()
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    pub fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id == client_id)
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.get(id)
    }

    /// The item with this id if it is of this kind.
    pub fn item_of(&self, kind: ItemKind, id: &str) -> Option<&Item> {
        self.items.get(id).filter(|i| i.kind == kind)
    }

    /// The enterprise metadata scope, `enterprise_<id>`.
    pub fn enterprise_scope(&self) -> String {
        format!("enterprise_{}", self.enterprise_id)
    }

    /// Ancestors of `id`, nearest first (not including `id`).
    pub fn ancestors(&self, id: &str) -> Vec<&Item> {
        let mut out = Vec::new();
        let mut cur = self.items.get(id).and_then(|i| i.parent.as_deref());
        while let Some(pid) = cur {
            match self.items.get(pid) {
                Some(p) if !out.iter().any(|a: &&Item| a.id == p.id) => {
                    out.push(p);
                    cur = p.parent.as_deref();
                }
                _ => break,
            }
        }
        out
    }

    /// Whether `id` is `ancestor` or lies below it.
    pub fn is_within(&self, id: &str, ancestor: &str) -> bool {
        id == ancestor || self.ancestors(id).iter().any(|a| a.id == ancestor)
    }

    /// Direct children of a container.
    pub fn children(&self, container: &Container) -> Vec<&Item> {
        self.items
            .values()
            .filter(|i| match container {
                Container::Root(owner) => i.parent.is_none() && &i.owner == owner,
                Container::Folder(id) => i.parent.as_deref() == Some(id.as_str()),
            })
            .collect()
    }

    /// Every item below `id` (not including it).
    pub fn descendants(&self, id: &str) -> Vec<&Item> {
        let mut out = Vec::new();
        let mut stack = vec![id.to_string()];
        while let Some(cur) = stack.pop() {
            for child in self.children(&Container::Folder(cur)) {
                stack.push(child.id.clone());
                out.push(child);
            }
        }
        out
    }

    /// Total size of the files in a container's subtree.
    pub fn folder_size(&self, container: &Container) -> u64 {
        let roots = self.children(container);
        roots
            .iter()
            .map(|i| {
                i.size()
                    + self
                        .descendants(&i.id)
                        .iter()
                        .map(|d| d.size())
                        .sum::<u64>()
            })
            .sum()
    }

    /// The text of a file (for search, extracted text and the AI stand-in): its
    /// content if that is UTF-8, `None` for folders and binary files.
    pub fn text_of(item: &Item) -> Option<&str> {
        let data = item.file.as_ref()?;
        std::str::from_utf8(&data.content).ok()
    }
}
