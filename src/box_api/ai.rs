//! Box AI: questions over files, free-form and structured extraction.

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    BoxClient, BoxError, CredentialSource,
    client::Request,
    models::{AiExtractStructured, AiResponse},
};

fn items(file_ids: &[String]) -> Value {
    Value::Array(
        file_ids
            .iter()
            .map(|id| json!({ "id": id, "type": "file" }))
            .collect(),
    )
}

impl BoxClient {
    /// `POST /ai/ask`: single-item or multiple-item question answering.
    pub async fn ai_ask(
        &self,
        creds: &impl CredentialSource,
        prompt: &str,
        file_ids: &[String],
    ) -> Result<AiResponse, BoxError> {
        let mode = if file_ids.len() == 1 {
            "single_item_qa"
        } else {
            "multiple_item_qa"
        };
        let request = Request::new(Method::POST, self.api(&["ai", "ask"])).json(json!({
            "mode": mode,
            "prompt": prompt,
            "items": items(file_ids),
            "include_citations": true,
        }));
        self.call(creds, request).await
    }

    /// `POST /ai/extract`: free-form extraction guided by a prompt.
    pub async fn ai_extract(
        &self,
        creds: &impl CredentialSource,
        prompt: &str,
        file_ids: &[String],
    ) -> Result<AiResponse, BoxError> {
        let request = Request::new(Method::POST, self.api(&["ai", "extract"]))
            .json(json!({ "prompt": prompt, "items": items(file_ids) }));
        self.call(creds, request).await
    }

    /// `POST /ai/extract_structured` with ad-hoc `fields`.
    pub async fn ai_extract_structured(
        &self,
        creds: &impl CredentialSource,
        file_ids: &[String],
        fields: &[Value],
    ) -> Result<AiExtractStructured, BoxError> {
        let request = Request::new(Method::POST, self.api(&["ai", "extract_structured"]))
            .json(json!({ "items": items(file_ids), "fields": fields }));
        self.call(creds, request).await
    }
}
