//! The parts of Box's schemas the tools use (field names from Box's OpenAPI
//! description). Unknown fields are ignored; everything Box may omit is optional.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct UserMini {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
}

/// `User--Full` (the fields worth showing).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_used: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enterprise: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Users {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub entries: Vec<User>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct ParentRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct PathCollection {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub entries: Vec<ParentRef>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SharedLink {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unshared_at: Option<String>,
}

/// A file, folder or web link as Box describes it (`File--Full`, `Folder--Full`,
/// and the mini forms inside listings).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_collection: Option<PathCollection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<UserMini>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_link: Option<SharedLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_collection: Option<Items>,
}

/// `Items`: a page of a folder listing, by offset or by marker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Items {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    #[serde(default)]
    pub entries: Vec<Item>,
}

/// `Files`: what an upload returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Files {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub entries: Vec<Item>,
}

/// `SearchResults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct SearchResults {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub offset: Option<u64>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub entries: Vec<Item>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Collaboration {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessible_by: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<UserMini>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Collaborations {
    #[serde(default)]
    pub total_count: Option<u64>,
    #[serde(default)]
    pub entries: Vec<Collaboration>,
}

/// `MetadataTemplates`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct MetadataTemplates {
    #[serde(default)]
    pub entries: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

/// `Metadatas`: every instance on a file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Metadatas {
    #[serde(default)]
    pub entries: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `AiResponse--Full` and `AiResponse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AiResponse {
    pub answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<Value>,
}

/// `AiExtractStructuredResponse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct AiExtractStructured {
    #[serde(default)]
    pub answer: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_reason: Option<String>,
}
