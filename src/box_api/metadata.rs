//! Metadata templates and instances on files.

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    BoxClient, BoxError, CredentialSource,
    client::Request,
    models::{MetadataTemplates, Metadatas},
};

impl BoxClient {
    /// `GET /metadata_templates/enterprise`.
    pub async fn metadata_templates(
        &self,
        creds: &impl CredentialSource,
    ) -> Result<MetadataTemplates, BoxError> {
        let request = Request::new(Method::GET, self.api(&["metadata_templates", "enterprise"]))
            .query("limit", 100);
        self.call(creds, request).await
    }

    /// `GET /files/{id}/metadata`: every instance on the file.
    pub async fn file_metadata(
        &self,
        creds: &impl CredentialSource,
        id: &str,
    ) -> Result<Metadatas, BoxError> {
        self.call(
            creds,
            Request::new(Method::GET, self.api(&["files", id, "metadata"])),
        )
        .await
    }

    /// `GET /files/{id}/metadata/{scope}/{template}`.
    pub async fn get_metadata(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        scope: &str,
        template: &str,
    ) -> Result<Value, BoxError> {
        self.call(
            creds,
            Request::new(
                Method::GET,
                self.api(&["files", id, "metadata", scope, template]),
            ),
        )
        .await
    }

    /// Sets the given keys: creates the instance (`POST`) or, when it exists
    /// (409), replaces/adds each key with a JSON Patch (`PUT`).
    pub async fn set_metadata(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        scope: &str,
        template: &str,
        values: &serde_json::Map<String, Value>,
    ) -> Result<Value, BoxError> {
        let url = self.api(&["files", id, "metadata", scope, template]);
        let create = Request::new(Method::POST, url.clone()).json(Value::Object(values.clone()));
        match self.call(creds, create).await {
            Err(BoxError::Conflict { .. } | BoxError::NameInUse { .. }) => {
                let existing: Value = self
                    .call(creds, Request::new(Method::GET, url.clone()))
                    .await?;
                let patch: Vec<Value> = values
                    .iter()
                    .map(|(key, value)| {
                        let op = if existing.get(key).is_some() { "replace" } else { "add" };
                        json!({ "op": op, "path": format!("/{}", escape_pointer(key)), "value": value })
                    })
                    .collect();
                let update = Request::new(Method::PUT, url)
                    .header("content-type", "application/json-patch+json")
                    .json(Value::Array(patch));
                self.call(creds, update).await
            }
            other => other,
        }
    }

    /// `DELETE /files/{id}/metadata/{scope}/{template}`.
    pub async fn delete_metadata(
        &self,
        creds: &impl CredentialSource,
        id: &str,
        scope: &str,
        template: &str,
    ) -> Result<(), BoxError> {
        let request = Request::new(
            Method::DELETE,
            self.api(&["files", id, "metadata", scope, template]),
        );
        self.execute(creds, request, 64 * 1024).await.map(|_| ())
    }
}

/// RFC 6901: `~` → `~0`, `/` → `~1`.
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
