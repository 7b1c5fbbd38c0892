//! `box_search`: full-text and name search over what the caller can see.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::Deserialize;

use super::{BoxTool, Outcome, args, respond};
use crate::authz::Action;
use crate::{box_api::SearchQuery, mcp::BoxMcp};

pub const BOX_SEARCH: BoxTool = BoxTool {
    name: "box_search",
    scopes: &["item_preview"],
    action: Action::Read,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SearchArgs {
    /// Words to look for in names, descriptions and content.
    pub query: String,
    /// Only `file`, `folder` or `web_link` results.
    #[serde(default)]
    pub item_type: Option<String>,
    /// Only files with these extensions, e.g. ["md", "csv"].
    #[serde(default)]
    pub file_extensions: Vec<String>,
    /// Only items inside these folders (Box folder ids).
    #[serde(default)]
    pub ancestor_folder_ids: Vec<String>,
    /// Results per page, 1 to 200 (default 20).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Results to skip, for paging (default 0).
    #[serde(default)]
    pub offset: Option<u64>,
}

#[tool_router(router = search_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_search",
        description = "Search Box for files and folders you can access, by words in their name, description or content. Returns ids to use with the other tools.",
        annotations(
            title = "Box: search",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_search(
        &self,
        Parameters(a): Parameters<SearchArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let query = SearchQuery {
                    query: args::text("query", &a.query, 500)?,
                    item_type: a
                        .item_type
                        .as_deref()
                        .map(|t| args::one_of("item_type", t, &["file", "folder", "web_link"]))
                        .transpose()?,
                    file_extensions: a
                        .file_extensions
                        .iter()
                        .map(|e| {
                            let e = e.trim_start_matches('.');
                            if e.is_empty()
                                || e.len() > 16
                                || !e.chars().all(|c| c.is_ascii_alphanumeric())
                            {
                                Err(super::ToolError::invalid(
                                    "file_extensions",
                                    "must be extensions like \"md\"",
                                ))
                            } else {
                                Ok(e.to_ascii_lowercase())
                            }
                        })
                        .collect::<Result<_, _>>()?,
                    ancestor_folder_ids: a
                        .ancestor_folder_ids
                        .iter()
                        .map(|id| args::box_id("ancestor_folder_ids", id))
                        .collect::<Result<_, _>>()?,
                    content_types: Vec::new(),
                    limit: args::bounded("limit", a.limit, 1, 200, 20)? as u32,
                    offset: args::bounded("offset", a.offset, 0, 10_000, 0)?,
                };
                let call = self.box_call(&context, &BOX_SEARCH, None)?;
                let results = call.client().search(&call, &query).await?;
                let summary = format!(
                    "{} result(s) for {:?} (showing {})",
                    results.total_count.unwrap_or(results.entries.len() as u64),
                    query.query,
                    results.entries.len()
                );
                Ok(Outcome::new(summary, &results))
            }
            .await,
        )
    }
}
