//! Files and folders: get, list, create, update (rename, move, description), copy, delete.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{
    BoxClient, BoxError, CredentialSource, ITEM_FIELDS, client::Request, models::Item,
    models::Items,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    File,
    Folder,
}

impl ItemKind {
    /// The API path segment: `files` or `folders`.
    pub fn collection(self) -> &'static str {
        match self {
            Self::File => "files",
            Self::Folder => "folders",
        }
    }

    /// Box's `type` value: `file` or `folder`.
    pub fn type_name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Folder => "folder",
        }
    }
}

/// What `PUT /files/{id}` or `PUT /folders/{id}` changes; `None` leaves a field as is.
#[derive(Debug, Clone, Default)]
pub struct ItemUpdate {
    pub name: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
}

/// A folder listing page: by offset, or by marker (`marker = Some("")` starts one).
#[derive(Debug, Clone, Default)]
pub struct ListItems {
    pub limit: u32,
    pub offset: Option<u64>,
    pub marker: Option<String>,
    pub sort: Option<String>,
    pub direction: Option<String>,
}

impl BoxClient {
    pub async fn get_item(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
    ) -> Result<Item, BoxError> {
        let request = Request::new(Method::GET, self.api(&[kind.collection(), id]))
            .query("fields", ITEM_FIELDS);
        self.call(creds, request).await
    }

    /// `GET /folders/{id}/items`.
    pub async fn list_folder(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        page: &ListItems,
    ) -> Result<Items, BoxError> {
        let mut request = Request::new(Method::GET, self.api(&["folders", id, "items"]))
            .query("limit", page.limit)
            .query(
                "fields",
                "type,id,name,size,modified_at,etag,sequence_id,extension",
            )
            .query_opt("sort", page.sort.as_deref())
            .query_opt("direction", page.direction.as_deref());
        if let Some(marker) = &page.marker {
            request = request.query("usemarker", "true");
            if !marker.is_empty() {
                request = request.query("marker", marker);
            }
        } else {
            request = request.query("offset", page.offset.unwrap_or(0));
        }
        self.call(creds, request).await
    }

    /// `POST /folders`: 409 `item_name_in_use` becomes [`BoxError::NameInUse`].
    pub async fn create_folder(
        &self,
        creds: &impl CredentialSource,
        parent_id: &str,
        name: &str,
    ) -> Result<Item, BoxError> {
        let request = Request::new(Method::POST, self.api(&["folders"]))
            .query("fields", ITEM_FIELDS)
            .json(json!({ "name": name, "parent": { "id": parent_id } }));
        self.call(creds, request).await
    }

    pub async fn update_item(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
        update: &ItemUpdate,
    ) -> Result<Item, BoxError> {
        let mut body = Map::new();
        if let Some(name) = &update.name {
            body.insert("name".into(), json!(name));
        }
        if let Some(parent) = &update.parent_id {
            body.insert("parent".into(), json!({ "id": parent }));
        }
        if let Some(description) = &update.description {
            body.insert("description".into(), json!(description));
        }
        let request = Request::new(Method::PUT, self.api(&[kind.collection(), id]))
            .query("fields", ITEM_FIELDS)
            .json(Value::Object(body));
        self.call(creds, request).await
    }

    /// `POST /files/{id}/copy` or `POST /folders/{id}/copy`.
    pub async fn copy_item(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
        parent_id: &str,
        name: Option<&str>,
    ) -> Result<Item, BoxError> {
        let mut body = json!({ "parent": { "id": parent_id } });
        if let Some(name) = name {
            body["name"] = json!(name);
        }
        let request = Request::new(Method::POST, self.api(&[kind.collection(), id, "copy"]))
            .query("fields", ITEM_FIELDS)
            .json(body);
        self.call(creds, request).await
    }

    /// `DELETE /files/{id}`, or `DELETE /folders/{id}?recursive=`.
    pub async fn delete_item(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
        recursive: bool,
    ) -> Result<(), BoxError> {
        let mut request = Request::new(Method::DELETE, self.api(&[kind.collection(), id]));
        if kind == ItemKind::Folder {
            request = request.query("recursive", recursive);
        }
        self.execute(creds, request, 64 * 1024).await.map(|_| ())
    }
}
