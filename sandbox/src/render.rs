//! JSON representations of sandbox objects in the shapes of Box's OpenAPI schemas
//! (`File--Full`, `Folder--Full`, `User--Full`, `Collaboration`, `Metadata--Full`,
//! `MetadataTemplate`), with Box's `fields` projection.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::seed::SeedAccount;
use crate::store::{
    Access, Collaboration, Container, Item, ItemKind, MetadataInstance, Role, SharedLink, Store,
    Template, User,
};

/// Fields of a file in folder listings (Box's mini representation).
pub const FILE_MINI: &[&str] = &[
    "type",
    "id",
    "file_version",
    "sequence_id",
    "etag",
    "sha1",
    "name",
];
/// Fields of a folder in folder listings.
pub const FOLDER_MINI: &[&str] = &["type", "id", "sequence_id", "etag", "name"];
/// Fields of `GET /files/{id}` without `fields`.
pub const FILE_STANDARD: &[&str] = &[
    "type",
    "id",
    "file_version",
    "sequence_id",
    "etag",
    "sha1",
    "name",
    "description",
    "size",
    "path_collection",
    "created_at",
    "modified_at",
    "trashed_at",
    "purged_at",
    "content_created_at",
    "content_modified_at",
    "created_by",
    "modified_by",
    "owned_by",
    "shared_link",
    "parent",
    "item_status",
];
/// Fields of `GET /folders/{id}` without `fields`.
pub const FOLDER_STANDARD: &[&str] = &[
    "type",
    "id",
    "sequence_id",
    "etag",
    "name",
    "created_at",
    "modified_at",
    "description",
    "size",
    "path_collection",
    "created_by",
    "modified_by",
    "trashed_at",
    "purged_at",
    "content_created_at",
    "content_modified_at",
    "owned_by",
    "shared_link",
    "folder_upload_email",
    "parent",
    "item_status",
    "item_collection",
];
/// Folder fields in search results and other lists of full items.
pub const FOLDER_LISTED: &[&str] = &[
    "type",
    "id",
    "sequence_id",
    "etag",
    "name",
    "created_at",
    "modified_at",
    "description",
    "size",
    "path_collection",
    "created_by",
    "modified_by",
    "trashed_at",
    "purged_at",
    "content_created_at",
    "content_modified_at",
    "owned_by",
    "shared_link",
    "folder_upload_email",
    "parent",
    "item_status",
];
/// Fields of a user without `fields`.
pub const USER_STANDARD: &[&str] = &[
    "type",
    "id",
    "name",
    "login",
    "created_at",
    "modified_at",
    "language",
    "timezone",
    "space_amount",
    "space_used",
    "max_upload_size",
    "status",
    "job_title",
    "phone",
    "address",
    "avatar_url",
    "notification_email",
];

const ALLOWED_INVITEE_ROLES: &[&str] = &[
    "editor",
    "viewer",
    "previewer",
    "uploader",
    "previewer uploader",
    "viewer uploader",
    "co-owner",
];

/// A `fields=` query: `None` means the endpoint's defaults.
#[derive(Debug, Clone, Default)]
pub struct Fields(Option<HashSet<String>>);

impl Fields {
    pub fn parse(value: Option<&str>) -> Fields {
        match value {
            Some(v) if !v.trim().is_empty() => Fields(Some(
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )),
            _ => Fields(None),
        }
    }

    /// Whether to include `name`, given the endpoint's defaults.
    pub fn wants(&self, name: &str, defaults: &[&str]) -> bool {
        match &self.0 {
            None => defaults.contains(&name),
            Some(set) => matches!(name, "type" | "id" | "etag") || set.contains(name),
        }
    }
}

/// A mini representation that does not depend on the viewer (conflicts, restrictions).
pub fn mini(item: &Item) -> Value {
    let mut m = json!({
        "type": item.kind.as_str(),
        "id": item.id,
        "sequence_id": item.sequence_id.to_string(),
        "etag": item.etag(),
        "name": item.name,
    });
    if let (Some(f), Some(map)) = (&item.file, m.as_object_mut()) {
        map.insert("sha1".into(), json!(f.sha1));
        map.insert(
            "file_version".into(),
            json!({"type": "file_version", "id": f.version_id, "sha1": f.sha1}),
        );
    }
    m
}

pub fn user_mini(user: Option<&User>) -> Value {
    match user {
        Some(u) => json!({"type": "user", "id": u.id, "name": u.name, "login": u.login}),
        None => json!({"type": "user", "id": "", "name": "", "login": ""}),
    }
}

/// A user in `User--Full` shape.
pub fn user(store: &Store, base_url: &str, u: &User, fields: &Fields, defaults: &[&str]) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if fields.wants(k, defaults) {
            m.insert(k.to_string(), v);
        }
    };
    let used: u64 = store
        .items
        .values()
        .filter(|i| i.owner == u.id)
        .map(Item::size)
        .sum();
    put("type", json!("user"));
    put("id", json!(u.id));
    put("name", json!(u.name));
    put("login", json!(u.login));
    put("created_at", json!(u.created_at));
    put("modified_at", json!(u.created_at));
    put("language", json!("en"));
    put("timezone", json!("UTC"));
    put("space_amount", json!(10_737_418_240u64));
    put("space_used", json!(used));
    put("max_upload_size", json!(2_147_483_648u64));
    put("status", json!("active"));
    put("job_title", json!(u.job_title));
    put("phone", json!(""));
    put("address", json!(""));
    put("avatar_url", json!(format!("{base_url}/avatar/{}", u.id)));
    put("notification_email", Value::Null);
    put("role", json!(u.role));
    put("tracking_codes", json!([]));
    put(
        "can_see_managed_users",
        json!(u.service_account || u.role == "admin"),
    );
    put("is_sync_enabled", json!(!u.service_account));
    put("is_external_collab_restricted", json!(false));
    put("is_exempt_from_device_limits", json!(false));
    put("is_exempt_from_login_verification", json!(false));
    // A personal account is in no enterprise. Box's schema has no null here, so the
    // field is left out.
    match &u.account {
        SeedAccount::Managed => put(
            "enterprise",
            json!({"id": store.enterprise_id, "type": "enterprise", "name": store.enterprise_name}),
        ),
        SeedAccount::OtherEnterprise { enterprise } => put(
            "enterprise",
            json!({"id": enterprise.id, "type": "enterprise", "name": enterprise.name}),
        ),
        SeedAccount::Personal => {}
    }
    put("my_tags", json!([]));
    put("hostname", json!(format!("{base_url}/")));
    put("is_platform_access_only", json!(u.service_account));
    put("external_app_user_id", json!(""));
    Value::Object(m)
}

/// Renders items as one user sees them.
pub struct View<'a> {
    pub store: &'a Store,
    pub viewer: &'a str,
    pub base_url: &'a str,
    /// The `x-rep-hints` header, if any.
    pub rep_hints: Option<&'a str>,
}

impl<'a> View<'a> {
    fn user(&self, id: &str) -> Value {
        user_mini(self.store.user(id))
    }

    fn root_mini(&self) -> Value {
        json!({"type": "folder", "id": "0", "sequence_id": null, "etag": null, "name": "All Files"})
    }

    fn parent_mini(&self, item: &Item) -> Value {
        match self.store.visible_parent(self.viewer, item) {
            Some(p) => mini(p),
            None => self.root_mini(),
        }
    }

    fn path_collection(&self, item: &Item) -> Value {
        let mut entries = vec![self.root_mini()];
        entries.extend(
            self.store
                .visible_path(self.viewer, item)
                .into_iter()
                .map(mini),
        );
        json!({"total_count": entries.len(), "entries": entries})
    }

    fn shared_link(&self, item: &Item, link: &SharedLink) -> Value {
        let permission = if link.can_edit {
            "can_edit"
        } else if link.can_download {
            "can_download"
        } else {
            "can_preview"
        };
        let download_url = match item.kind {
            ItemKind::File => {
                let ext = item.extension();
                let suffix = if ext.is_empty() {
                    String::new()
                } else {
                    format!(".{ext}")
                };
                json!(format!(
                    "{}/shared/static/{}{suffix}",
                    self.base_url, link.key
                ))
            }
            ItemKind::Folder => Value::Null,
        };
        json!({
            "url": format!("{}/s/{}", self.base_url, link.key),
            "download_url": download_url,
            "vanity_url": link.vanity_name.as_ref().map(|v| format!("{}/v/{v}", self.base_url)),
            "vanity_name": link.vanity_name,
            "access": link.access,
            "effective_access": link.access,
            "effective_permission": permission,
            "unshared_at": link.unshared_at,
            "is_password_enabled": link.password,
            "permissions": {
                "can_download": link.can_download,
                "can_preview": link.can_preview,
                "can_edit": link.can_edit,
            },
            "download_count": 0,
            "preview_count": 0,
        })
    }

    fn access(&self, item: &Item) -> Option<Access> {
        self.store.access(self.viewer, &item.id)
    }

    fn common(&self, m: &mut Map<String, Value>, item: &Item, fields: &Fields, defaults: &[&str]) {
        let mut put = |k: &str, v: Value| {
            if fields.wants(k, defaults) {
                m.insert(k.to_string(), v);
            }
        };
        put("type", json!(item.kind.as_str()));
        put("id", json!(item.id));
        put("etag", json!(item.etag()));
        put("sequence_id", json!(item.sequence_id.to_string()));
        put("name", json!(item.name));
        put("description", json!(item.description));
        put("created_at", json!(item.created_at));
        put("modified_at", json!(item.modified_at));
        put("trashed_at", Value::Null);
        put("purged_at", Value::Null);
        put("content_created_at", json!(item.content_created_at));
        put("content_modified_at", json!(item.content_modified_at));
        put("created_by", self.user(&item.created_by));
        put("modified_by", self.user(&item.modified_by));
        put("owned_by", self.user(&item.owner));
        put("item_status", json!("active"));
        put(
            "has_collaborations",
            json!(!self.store.collaborations_on(&item.id).is_empty()),
        );
        put("is_externally_owned", json!(false));
        put("allowed_invitee_roles", json!(ALLOWED_INVITEE_ROLES));
        put(
            "watermark_info",
            json!({"is_watermarked": false, "is_watermark_inherited": false, "is_watermarked_by_access_policy": false}),
        );
        put(
            "is_accessible_via_shared_link",
            json!(
                item.shared_link
                    .as_ref()
                    .is_some_and(|l| l.access == "open")
            ),
        );
        put("classification", Value::Null);
        put("is_associated_with_app_item", json!(false));
        if fields.wants("path_collection", defaults) {
            m.insert("path_collection".into(), self.path_collection(item));
        }
        if fields.wants("parent", defaults) {
            m.insert("parent".into(), self.parent_mini(item));
        }
        if fields.wants("shared_link", defaults) {
            let link = item
                .shared_link
                .as_ref()
                .map_or(Value::Null, |l| self.shared_link(item, l));
            m.insert("shared_link".into(), link);
        }
    }

    /// A file in `File--Full` shape.
    pub fn file(&self, item: &Item, fields: &Fields, defaults: &[&str]) -> Value {
        let mut m = Map::new();
        self.common(&mut m, item, fields, defaults);
        let perms = self.access(item).map(Access::perms).unwrap_or_default();
        let mut put = |k: &str, v: Value| {
            if fields.wants(k, defaults) {
                m.insert(k.to_string(), v);
            }
        };
        if let Some(f) = &item.file {
            put("sha1", json!(f.sha1));
            put(
                "file_version",
                json!({"type": "file_version", "id": f.version_id, "sha1": f.sha1}),
            );
            put("version_number", json!(f.version_number.to_string()));
        }
        put("size", json!(item.size()));
        put("comment_count", json!(0));
        put("extension", json!(item.extension()));
        put("is_package", json!(false));
        put("lock", Value::Null);
        put("expires_at", Value::Null);
        put("disposition_at", Value::Null);
        put(
            "uploader_display_name",
            json!(
                self.store
                    .user(&item.created_by)
                    .map_or("", |u| u.name.as_str())
            ),
        );
        put(
            "shared_link_permission_options",
            json!(["can_preview", "can_download", "can_edit"]),
        );
        put(
            "permissions",
            json!({
                "can_delete": perms.delete,
                "can_download": perms.download,
                "can_invite_collaborator": perms.invite,
                "can_rename": perms.rename,
                "can_set_share_access": perms.set_share_access,
                "can_share": perms.share,
                "can_annotate": perms.preview,
                "can_comment": perms.preview,
                "can_preview": perms.preview,
                "can_upload": perms.upload,
                "can_view_annotations_all": perms.preview,
                "can_view_annotations_self": perms.preview,
            }),
        );
        if fields.wants("representations", defaults) {
            m.insert("representations".into(), self.representations(item));
        }
        Value::Object(m)
    }

    /// The `representations` field: extracted text for text files.
    fn representations(&self, item: &Item) -> Value {
        let wanted = self.rep_hints.is_none_or(|h| {
            h.split(['[', ']'])
                .map(|p| p.split('?').next().unwrap_or("").trim())
                .any(|p| p == "extracted_text")
        });
        let mut entries = Vec::new();
        if let (true, Some(f), Some(_)) = (wanted, &item.file, Store::text_of(item)) {
            let base = format!(
                "{}/2.0/internal_files/{}/versions/{}/representations/extracted_text",
                self.base_url, item.id, f.version_id
            );
            entries.push(json!({
                "representation": "extracted_text",
                "properties": {},
                "info": {"url": base},
                "status": {"state": "success"},
                "content": {"url_template": format!("{base}/content/{{+asset_path}}")},
            }));
        }
        json!({"entries": entries})
    }

    /// A folder in `Folder--Full` shape.
    pub fn folder(&self, item: &Item, fields: &Fields, defaults: &[&str]) -> Value {
        let mut m = Map::new();
        self.common(&mut m, item, fields, defaults);
        let container = Container::Folder(item.id.clone());
        let perms = self.access(item).map(Access::perms).unwrap_or_default();
        self.folder_extras(&mut m, &container, perms, fields, defaults);
        Value::Object(m)
    }

    /// The viewer's root folder (`0`).
    pub fn root(&self, fields: &Fields, defaults: &[&str]) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            if fields.wants(k, defaults) {
                m.insert(k.to_string(), v);
            }
        };
        put("type", json!("folder"));
        put("id", json!("0"));
        put("etag", Value::Null);
        put("sequence_id", Value::Null);
        put("name", json!("All Files"));
        put("description", json!(""));
        put("created_at", Value::Null);
        put("modified_at", Value::Null);
        put("trashed_at", Value::Null);
        put("purged_at", Value::Null);
        put("content_created_at", Value::Null);
        put("content_modified_at", Value::Null);
        // Box sends empty strings here, which `User--Mini.login` (format email)
        // does not allow; the root is the viewer's own.
        put("created_by", self.user(self.viewer));
        put("modified_by", self.user(self.viewer));
        put("owned_by", self.user(self.viewer));
        put("shared_link", Value::Null);
        put("parent", Value::Null);
        put("item_status", json!("active"));
        put("path_collection", json!({"total_count": 0, "entries": []}));
        put("has_collaborations", json!(false));
        put("is_externally_owned", json!(false));
        put("allowed_invitee_roles", json!(ALLOWED_INVITEE_ROLES));
        put("is_accessible_via_shared_link", json!(false));
        put("classification", Value::Null);
        put("is_associated_with_app_item", json!(false));
        let container = Container::Root(self.viewer.to_string());
        self.folder_extras(&mut m, &container, Access::Owner.perms(), fields, defaults);
        Value::Object(m)
    }

    fn folder_extras(
        &self,
        m: &mut Map<String, Value>,
        container: &Container,
        perms: crate::store::Perms,
        fields: &Fields,
        defaults: &[&str],
    ) {
        let mut put = |k: &str, v: Value| {
            if fields.wants(k, defaults) {
                m.insert(k.to_string(), v);
            }
        };
        put("folder_upload_email", Value::Null);
        put("sync_state", json!("not_synced"));
        put("can_non_owners_invite", json!(true));
        put("can_non_owners_view_collaborators", json!(true));
        put("is_collaboration_restricted_to_enterprise", json!(false));
        put(
            "allowed_shared_link_access_levels",
            json!(["open", "company", "collaborators"]),
        );
        put(
            "watermark_info",
            json!({"is_watermarked": false, "is_watermark_inherited": false, "is_watermarked_by_access_policy": false}),
        );
        put(
            "permissions",
            json!({
                "can_delete": perms.delete,
                "can_download": perms.download,
                "can_invite_collaborator": perms.invite,
                "can_rename": perms.rename,
                "can_set_share_access": perms.set_share_access,
                "can_share": perms.share,
                "can_upload": perms.upload,
            }),
        );
        if fields.wants("size", defaults) {
            m.insert("size".into(), json!(self.store.folder_size(container)));
        }
        if fields.wants("item_collection", defaults) {
            let entries = self.entries(container);
            let total = entries.len();
            let first: Vec<Value> = entries
                .into_iter()
                .take(100)
                .map(|i| self.listed(i, &Fields::default()))
                .collect();
            m.insert(
                "item_collection".into(),
                json!({
                    "total_count": total,
                    "entries": first,
                    "offset": 0,
                    "limit": 100,
                    "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
                }),
            );
        }
    }

    /// The items in a container as the viewer sees it, folders first, then by name.
    pub fn entries(&self, container: &Container) -> Vec<&'a Item> {
        let mut items = match container {
            Container::Root(user) => self.store.root_entries(user),
            Container::Folder(_) => self.store.children(container),
        };
        sort_items(&mut items, "name", false);
        items
    }

    /// An item in a folder listing: mini by default, or the requested fields.
    pub fn listed(&self, item: &Item, fields: &Fields) -> Value {
        match item.kind {
            ItemKind::File => self.file(item, fields, FILE_MINI),
            ItemKind::Folder => self.folder(item, fields, FOLDER_MINI),
        }
    }

    /// An item with its standard fields (search results, uploads, copies).
    pub fn standard(&self, item: &Item, fields: &Fields) -> Value {
        match item.kind {
            ItemKind::File => self.file(item, fields, FILE_STANDARD),
            ItemKind::Folder => self.folder(item, fields, FOLDER_LISTED),
        }
    }
}

/// Folders before files; then by `by` (`name`, `id`, `date`, `size`).
pub fn sort_items(items: &mut [&Item], by: &str, descending: bool) {
    items.sort_by(|a, b| {
        let kind = |i: &Item| matches!(i.kind, ItemKind::File);
        let ord = match by {
            "id" => a.id.len().cmp(&b.id.len()).then_with(|| a.id.cmp(&b.id)),
            "date" => a.modified_at.cmp(&b.modified_at),
            "size" => a.size().cmp(&b.size()),
            _ => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
        }
        .then_with(|| a.id.cmp(&b.id));
        kind(a)
            .cmp(&kind(b))
            .then(if descending { ord.reverse() } else { ord })
    });
}

/// A collaboration in `Collaboration` shape.
pub fn collaboration(store: &Store, c: &Collaboration) -> Value {
    let person = |id: &str| match store.user(id) {
        Some(u) => {
            json!({"type": "user", "id": u.id, "name": u.name, "login": u.login, "is_active": true})
        }
        None => json!({"type": "user", "id": id, "name": "", "login": "", "is_active": false}),
    };
    json!({
        "type": "collaboration",
        "id": c.id,
        "item": store.item(&c.item).map_or(Value::Null, mini),
        "app_item": null,
        "accessible_by": person(&c.user),
        "invite_email": null,
        "role": c.role.as_str(),
        "expires_at": null,
        "is_access_only": false,
        "status": "accepted",
        "acknowledged_at": c.created_at,
        "created_by": person(&c.created_by),
        "created_at": c.created_at,
        "modified_at": c.modified_at,
    })
}

/// A metadata instance in `Metadata--Full` shape.
pub fn metadata_instance(store: &Store, m: &MetadataInstance, can_edit: bool) -> Value {
    let kind = store.item(&m.item).map_or("file", |i| i.kind.as_str());
    let type_name = match store.template(&m.scope, &m.template) {
        Some(t) => format!("{}-{}", t.key, t.id),
        None => m.template.clone(),
    };
    let mut out = Map::new();
    out.insert("$id".into(), json!(m.id));
    out.insert("$version".into(), json!(m.version));
    out.insert("$type".into(), json!(type_name));
    out.insert("$parent".into(), json!(format!("{kind}_{}", m.item)));
    out.insert("$typeVersion".into(), json!(0));
    out.insert("$template".into(), json!(m.template));
    out.insert("$scope".into(), json!(m.scope));
    out.insert("$canEdit".into(), json!(can_edit));
    for (k, v) in &m.values {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// A template in `MetadataTemplate` shape.
pub fn template(store: &Store, t: &Template) -> Value {
    let fields: Vec<Value> = t
        .fields
        .iter()
        .map(|f| {
            let mut v = json!({
                "id": f.id,
                "type": f.kind,
                "key": f.key,
                "displayName": f.display_name,
                "hidden": false,
            });
            if !f.options.is_empty()
                && let Some(map) = v.as_object_mut()
            {
                let options: Vec<Value> = f
                    .options
                    .iter()
                    .map(|(id, key)| json!({"id": id, "key": key}))
                    .collect();
                map.insert("options".into(), json!(options));
            }
            v
        })
        .collect();
    json!({
        "id": t.id,
        "type": "metadata_template",
        "scope": store.enterprise_scope(),
        "templateKey": t.key,
        "displayName": t.display_name,
        "hidden": t.hidden,
        "copyInstanceOnItemCopy": false,
        "fields": fields,
    })
}

/// Roles as Box names them, for error messages.
pub fn role_names() -> Vec<&'static str> {
    Role::ALL.iter().map(|r| r.as_str()).collect()
}
