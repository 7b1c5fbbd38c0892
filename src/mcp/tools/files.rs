//! File tools: get, read text, download, upload (new file or new version),
//! update (rename, move, description), copy, delete.

use base64::Engine as _;
use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::Deserialize;
use serde_json::json;

use super::{BoxTool, Outcome, ToolError, args, items::update_of, respond};
use crate::authz::Action;
use crate::{box_api::ItemKind, broker::BoxItem, mcp::BoxMcp};

pub const BOX_FILE_GET: BoxTool = BoxTool {
    name: "box_file_get",
    scopes: &["item_preview"],
    action: Action::Read,
};
pub const BOX_FILE_READ_TEXT: BoxTool = BoxTool {
    name: "box_file_read_text",
    // item_preview: the file's info and representations; item_download: the text.
    scopes: &["item_download", "item_preview"],
    action: Action::Read,
};
pub const BOX_FILE_DOWNLOAD: BoxTool = BoxTool {
    name: "box_file_download",
    scopes: &["item_download"],
    action: Action::Read,
};
pub const BOX_FILE_UPLOAD: BoxTool = BoxTool {
    name: "box_file_upload",
    scopes: &["item_upload"],
    action: Action::Write,
};
pub const BOX_FILE_UPDATE: BoxTool = BoxTool {
    name: "box_file_update",
    scopes: &["item_rename"],
    action: Action::Write,
};
pub const BOX_FILE_COPY: BoxTool = BoxTool {
    name: "box_file_copy",
    scopes: &["item_upload"],
    action: Action::Write,
};
pub const BOX_FILE_DELETE: BoxTool = BoxTool {
    name: "box_file_delete",
    scopes: &["item_delete"],
    action: Action::Delete,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FileId {
    /// The Box file id.
    pub file_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ReadTextArgs {
    pub file_id: String,
    /// Most bytes of text to return (default and maximum: the server's limit).
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UploadArgs {
    /// Where to create the file ("0" is the root). Not used with `file_id`.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// Upload a new version of this existing file instead of a new file.
    #[serde(default)]
    pub file_id: Option<String>,
    /// The file name (for a new version: the name it keeps or gets).
    pub name: String,
    /// The content as text (UTF-8).
    #[serde(default)]
    pub content_text: Option<String>,
    /// The content as base64, for binary files.
    #[serde(default)]
    pub content_base64: Option<String>,
    /// For a new version: the `etag` you last saw; the upload fails if the file changed since.
    #[serde(default)]
    pub if_match_etag: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateArgs {
    pub file_id: String,
    /// A new name.
    #[serde(default)]
    pub name: Option<String>,
    /// Move it into this folder.
    #[serde(default)]
    pub parent_folder_id: Option<String>,
    /// A new description (up to 256 characters).
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CopyArgs {
    pub file_id: String,
    /// The folder to copy it into.
    pub parent_folder_id: String,
    /// A name for the copy (default: the same name).
    #[serde(default)]
    pub name: Option<String>,
}

#[tool_router(router = files_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_file_get",
        description = "Get a Box file's details: name, size, path, owner, version (etag), description and shared link.",
        annotations(
            title = "Box: get file",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_file_get(
        &self,
        Parameters(a): Parameters<FileId>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let call =
                    self.box_call(&context, &BOX_FILE_GET, Some(BoxItem::File(id.clone())))?;
                let file = call.client().get_item(&call, ItemKind::File, &id).await?;
                let summary = format!(
                    "File {:?} (id {}, {} bytes)",
                    file.name.as_deref().unwrap_or(""),
                    file.id,
                    file.size.unwrap_or(0)
                );
                Ok(Outcome::new(summary, &file))
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_read_text",
        description = "Read a Box file's text (Box's extracted text, or the content of a text file such as txt, md, csv or json). Long text is cut at a size limit, with a notice.",
        annotations(
            title = "Box: read file text",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_file_read_text(
        &self,
        Parameters(a): Parameters<ReadTextArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let call = self.box_call(&context, &BOX_FILE_READ_TEXT, Some(BoxItem::File(id.clone())))?;
                let limit = call.limits().read_text_bytes;
                let max = args::bounded("max_bytes", a.max_bytes, 1, limit, limit)?;
                let text = call.client().file_text(&call, &id, max).await?;
                let summary = if text.truncated {
                    format!("Text of file {id}, cut at {max} bytes (the file has more; this is not the whole text):\n\n{}", text.text)
                } else {
                    format!("Text of file {id}:\n\n{}", text.text)
                };
                let data = json!({ "file_id": id, "text": text.text, "truncated": text.truncated, "max_bytes": max });
                Ok(Outcome::new(summary, &data))
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_download",
        description = "Download a Box file's content as base64 (up to the server's size limit; larger files fail with too_large).",
        annotations(
            title = "Box: download file",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_file_download(
        &self,
        Parameters(a): Parameters<FileId>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let call = self.box_call(
                    &context,
                    &BOX_FILE_DOWNLOAD,
                    Some(BoxItem::File(id.clone())),
                )?;
                let bytes = call
                    .client()
                    .download(&call, &id, call.limits().download_bytes)
                    .await?;
                let data = json!({
                    "file_id": id,
                    "size": bytes.len(),
                    "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
                });
                Ok(Outcome::new(
                    format!(
                        "Downloaded file {id} ({} bytes, base64 in content_base64)",
                        bytes.len()
                    ),
                    &data,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_upload",
        description = "Upload a file to Box from text or base64: a new file in a folder (fails with name_in_use if the name is taken), or a new version of an existing file (give file_id).",
        annotations(
            title = "Box: upload file",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_file_upload(
        &self,
        Parameters(a): Parameters<UploadArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let name = args::item_name("name", &a.name)?;
                let target = match (&a.parent_folder_id, &a.file_id) {
                    (Some(parent), None) => BoxItem::Folder(args::box_id("parent_folder_id", parent)?),
                    (None, Some(file)) => BoxItem::File(args::box_id("file_id", file)?),
                    _ => return Err(ToolError::invalid("parent_folder_id", "give exactly one of parent_folder_id (new file) and file_id (new version)")),
                };
                let call = self.box_call(&context, &BOX_FILE_UPLOAD, Some(target.clone()))?;
                let content = args::content(a.content_text.as_deref(), a.content_base64.as_deref(), call.limits().upload_bytes)?;
                let size = content.len();
                let files = match &target {
                    BoxItem::Folder(parent) => call.client().upload_file(&call, parent, &name, content).await?,
                    BoxItem::File(file) => {
                        call.client()
                            .upload_version(&call, file, &name, content, a.if_match_etag.as_deref())
                            .await?
                    }
                };
                let file = files.entries.into_iter().next().ok_or_else(|| {
                    ToolError::Box(crate::box_api::BoxError::InvalidResponse("the upload answer lists no file".into()))
                })?;
                let verb = if matches!(target, BoxItem::File(_)) { "Uploaded a new version of" } else { "Uploaded" };
                Ok(Outcome::new(format!("{verb} {:?} (id {}, {size} bytes)", name, file.id), &file))
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_update",
        description = "Rename a Box file, move it into another folder, or change its description.",
        annotations(
            title = "Box: update file",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_file_update(
        &self,
        Parameters(a): Parameters<UpdateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                let update = update_of(
                    a.name.as_deref(),
                    a.parent_folder_id.as_deref(),
                    a.description.as_deref(),
                )?;
                self.update_item(&context, &BOX_FILE_UPDATE, ItemKind::File, &id, &update)
                    .await
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_copy",
        description = "Copy a Box file into a folder, optionally under a new name.",
        annotations(
            title = "Box: copy file",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_file_copy(
        &self,
        Parameters(a): Parameters<CopyArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                self.copy_item(
                    &context,
                    &BOX_FILE_COPY,
                    ItemKind::File,
                    &id,
                    &a.parent_folder_id,
                    a.name.as_deref(),
                )
                .await
            }
            .await,
        )
    }

    #[tool(
        name = "box_file_delete",
        description = "Delete a Box file (it goes to the trash).",
        annotations(
            title = "Box: delete file",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_file_delete(
        &self,
        Parameters(a): Parameters<FileId>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("file_id", &a.file_id)?;
                self.delete_item(&context, &BOX_FILE_DELETE, ItemKind::File, &id, false)
                    .await
            }
            .await,
        )
    }
}
