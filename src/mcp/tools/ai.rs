//! Box AI: ask questions about files, extract free-form or structured data.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{BoxTool, Outcome, ToolError, args, respond};
use crate::authz::Action;
use crate::{broker::BoxItem, mcp::BoxMcp};

pub const BOX_AI_ASK: BoxTool = BoxTool {
    name: "box_ai_ask",
    scopes: &["ai.readwrite", "item_download"],
    action: Action::Read,
};
pub const BOX_AI_EXTRACT: BoxTool = BoxTool {
    name: "box_ai_extract",
    scopes: &["ai.readwrite", "item_download"],
    action: Action::Read,
};
pub const BOX_AI_EXTRACT_STRUCTURED: BoxTool = BoxTool {
    name: "box_ai_extract_structured",
    scopes: &["ai.readwrite", "item_download"],
    action: Action::Read,
};

/// Box AI takes up to 25 files per request.
const MAX_FILES: usize = 25;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AskArgs {
    /// The question.
    pub prompt: String,
    /// The Box file ids to ask about (1 to 25).
    pub file_ids: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExtractStructuredArgs {
    /// The Box file ids to extract from (1 to 25).
    pub file_ids: Vec<String>,
    /// The fields to extract.
    pub fields: Vec<Field>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Field {
    /// The field's key in the answer, e.g. `invoice_number`.
    pub key: String,
    /// What the field holds, to guide extraction.
    #[serde(default)]
    pub description: Option<String>,
    /// `string`, `float`, `date`, `enum` or `multiSelect` (default `string`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// One file: the token may be restricted to it. Several: not restricted.
fn resource(ids: &[String]) -> Option<BoxItem> {
    match ids {
        [one] => Some(BoxItem::File(one.clone())),
        _ => None,
    }
}

#[tool_router(router = ai_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_ai_ask",
        description = "Ask Box AI a question about one or several Box files. The answer cites the passages it used.",
        annotations(
            title = "Box AI: ask",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_ai_ask(
        &self,
        Parameters(a): Parameters<AskArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let prompt = args::text("prompt", &a.prompt, 10_000)?;
                let ids = args::box_ids("file_ids", &a.file_ids, MAX_FILES)?;
                let call = self.box_call(&context, &BOX_AI_ASK, resource(&ids))?;
                let answer = call.client().ai_ask(&call, &prompt, &ids).await?;
                Ok(Outcome::new(answer.answer.clone(), &answer))
            }
            .await,
        )
    }

    #[tool(
        name = "box_ai_extract",
        description = "Extract information from Box files with Box AI, guided by a free-form prompt (e.g. 'the parties and the contract date').",
        annotations(
            title = "Box AI: extract",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_ai_extract(
        &self,
        Parameters(a): Parameters<AskArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let prompt = args::text("prompt", &a.prompt, 10_000)?;
                let ids = args::box_ids("file_ids", &a.file_ids, MAX_FILES)?;
                let call = self.box_call(&context, &BOX_AI_EXTRACT, resource(&ids))?;
                let answer = call.client().ai_extract(&call, &prompt, &ids).await?;
                Ok(Outcome::new(answer.answer.clone(), &answer))
            }
            .await,
        )
    }

    #[tool(
        name = "box_ai_extract_structured",
        description = "Extract named fields from Box files with Box AI; the answer is an object keyed by the fields you list.",
        annotations(
            title = "Box AI: extract fields",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_ai_extract_structured(
        &self,
        Parameters(a): Parameters<ExtractStructuredArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let ids = args::box_ids("file_ids", &a.file_ids, MAX_FILES)?;
                if a.fields.is_empty() || a.fields.len() > 50 {
                    return Err(ToolError::invalid("fields", "must list 1 to 50 fields"));
                }
                let fields: Vec<Value> = a
                    .fields
                    .iter()
                    .map(|f| {
                        let key = args::text("fields.key", &f.key, 128)?;
                        let kind = args::one_of(
                            "fields.type",
                            f.kind.as_deref().unwrap_or("string"),
                            &["string", "float", "date", "enum", "multiSelect"],
                        )?;
                        let mut field = json!({ "key": key, "type": kind });
                        if let Some(d) = &f.description {
                            field["description"] =
                                json!(args::text("fields.description", d, 1000)?);
                        }
                        Ok(field)
                    })
                    .collect::<Result<_, ToolError>>()?;
                let call = self.box_call(&context, &BOX_AI_EXTRACT_STRUCTURED, resource(&ids))?;
                let answer = call
                    .client()
                    .ai_extract_structured(&call, &ids, &fields)
                    .await?;
                Ok(Outcome::new(
                    format!(
                        "Extracted {} field(s) from {} file(s)",
                        fields.len(),
                        ids.len()
                    ),
                    &answer,
                ))
            }
            .await,
        )
    }
}
