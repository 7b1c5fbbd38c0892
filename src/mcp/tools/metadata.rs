//! Metadata templates and instances.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{BoxTool, Outcome, ToolError, args, respond};
use crate::authz::Action;
use crate::{broker::BoxItem, mcp::BoxMcp};

pub const BOX_METADATA_TEMPLATES_LIST: BoxTool = BoxTool {
    name: "box_metadata_templates_list",
    scopes: &["item_preview"],
    action: Action::Read,
};
pub const BOX_METADATA_GET: BoxTool = BoxTool {
    name: "box_metadata_get",
    scopes: &["item_preview"],
    action: Action::Read,
};
pub const BOX_METADATA_SET: BoxTool = BoxTool {
    name: "box_metadata_set",
    // item_upload: create or patch; item_preview: read an existing instance to patch it.
    scopes: &["item_preview", "item_upload"],
    action: Action::Write,
};
pub const BOX_METADATA_DELETE: BoxTool = BoxTool {
    name: "box_metadata_delete",
    scopes: &["item_upload"],
    action: Action::Delete,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GetArgs {
    pub file_id: String,
    /// `enterprise` or `global` (default `enterprise`). Omit template_key to get every instance.
    #[serde(default)]
    pub scope: Option<String>,
    /// The template key, e.g. `projectInfo`.
    #[serde(default)]
    pub template_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SetArgs {
    pub file_id: String,
    /// `enterprise` or `global` (default `enterprise`).
    #[serde(default)]
    pub scope: Option<String>,
    /// The template key, e.g. `projectInfo`.
    pub template_key: String,
    /// The fields to set, e.g. {"status": "active"}; other fields are kept.
    pub values: Map<String, Value>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteArgs {
    pub file_id: String,
    #[serde(default)]
    pub scope: Option<String>,
    pub template_key: String,
}

fn scope(value: Option<&str>) -> Result<String, ToolError> {
    args::one_of(
        "scope",
        value.unwrap_or("enterprise"),
        &["enterprise", "global"],
    )
}

/// A template key: letters, digits, `_` and `-`, starting with a letter (as Box makes them).
fn template_key(value: &str) -> Result<String, ToolError> {
    let ok = value.len() <= 64
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(value.to_string())
    } else {
        Err(ToolError::invalid(
            "template_key",
            "must be a template key like projectInfo",
        ))
    }
}

#[tool_router(router = metadata_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_metadata_templates_list",
        description = "List the enterprise's Box metadata templates (keys, display names and fields).",
        annotations(
            title = "Box: list metadata templates",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_metadata_templates_list(
        &self,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let call = self.box_call(&context, &BOX_METADATA_TEMPLATES_LIST, None)?;
                let templates = call.client().metadata_templates(&call).await?;
                Ok(Outcome::new(
                    format!("{} metadata template(s)", templates.entries.len()),
                    &templates,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_metadata_get",
        description = "Get the metadata on a Box file: one template's instance, or every instance when no template_key is given.",
        annotations(
            title = "Box: get metadata",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_metadata_get(
        &self,
        Parameters(a): Parameters<GetArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let scope = scope(a.scope.as_deref())?;
                let template = a.template_key.as_deref().map(template_key).transpose()?;
                let call =
                    self.box_call(&context, &BOX_METADATA_GET, Some(BoxItem::File(id.clone())))?;
                match template {
                    Some(t) => {
                        let instance = call.client().get_metadata(&call, &id, &scope, &t).await?;
                        Ok(Outcome::new(
                            format!("Metadata {scope}/{t} on file {id}"),
                            &instance,
                        ))
                    }
                    None => {
                        let all = call.client().file_metadata(&call, &id).await?;
                        Ok(Outcome::new(
                            format!("{} metadata instance(s) on file {id}", all.entries.len()),
                            &all,
                        ))
                    }
                }
            }
            .await,
        )
    }

    #[tool(
        name = "box_metadata_set",
        description = "Set metadata fields on a Box file for a template: creates the instance, or updates the given fields of an existing one.",
        annotations(
            title = "Box: set metadata",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_metadata_set(
        &self,
        Parameters(a): Parameters<SetArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let scope = scope(a.scope.as_deref())?;
                let template = template_key(&a.template_key)?;
                if a.values.is_empty() || a.values.len() > 100 {
                    return Err(ToolError::invalid("values", "must set 1 to 100 fields"));
                }
                if a.values.keys().any(|k| k.starts_with('$') || k.is_empty()) {
                    return Err(ToolError::invalid(
                        "values",
                        "field names must not be empty or start with $",
                    ));
                }
                let call =
                    self.box_call(&context, &BOX_METADATA_SET, Some(BoxItem::File(id.clone())))?;
                let instance = call
                    .client()
                    .set_metadata(&call, &id, &scope, &template, &a.values)
                    .await?;
                Ok(Outcome::new(
                    format!(
                        "Set {} field(s) of {scope}/{template} on file {id}",
                        a.values.len()
                    ),
                    &instance,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_metadata_delete",
        description = "Remove a template's metadata instance from a Box file.",
        annotations(
            title = "Box: delete metadata",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_metadata_delete(
        &self,
        Parameters(a): Parameters<DeleteArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let scope = scope(a.scope.as_deref())?;
                let template = template_key(&a.template_key)?;
                let call = self.box_call(&context, &BOX_METADATA_DELETE, Some(BoxItem::File(id.clone())))?;
                call.client().delete_metadata(&call, &id, &scope, &template).await?;
                Ok(Outcome::new(
                    format!("Removed {scope}/{template} from file {id}"),
                    &json!({ "deleted": { "file_id": id, "scope": scope, "template_key": template } }),
                ))
            }
            .await,
        )
    }
}
