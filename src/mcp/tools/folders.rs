//! Folder tools: get, list (paged, optional bounded recursion), create, update
//! (rename, move, description), copy, delete.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::{Deserialize, Serialize};

use super::{BoxTool, Outcome, ToolError, args, items::update_of, respond};
use crate::authz::Action;
use crate::{
    box_api::{ItemKind, ListItems, models::Item},
    broker::BoxItem,
    mcp::BoxMcp,
};

pub const BOX_FOLDER_GET: BoxTool = BoxTool {
    name: "box_folder_get",
    scopes: &["item_preview"],
    action: Action::Read,
};
pub const BOX_FOLDER_LIST: BoxTool = BoxTool {
    name: "box_folder_list",
    scopes: &["item_preview"],
    action: Action::Read,
};
pub const BOX_FOLDER_CREATE: BoxTool = BoxTool {
    name: "box_folder_create",
    scopes: &["item_upload"],
    action: Action::Write,
};
pub const BOX_FOLDER_UPDATE: BoxTool = BoxTool {
    name: "box_folder_update",
    scopes: &["item_rename"],
    action: Action::Write,
};
pub const BOX_FOLDER_COPY: BoxTool = BoxTool {
    name: "box_folder_copy",
    scopes: &["item_upload"],
    action: Action::Write,
};
pub const BOX_FOLDER_DELETE: BoxTool = BoxTool {
    name: "box_folder_delete",
    scopes: &["item_delete"],
    action: Action::Delete,
};

/// Most entries a recursive listing returns in all.
const MAX_RECURSIVE_ENTRIES: usize = 1000;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct FolderId {
    /// The Box folder id ("0" is the root of the caller's Box).
    pub folder_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListArgs {
    /// The Box folder id ("0" is the root).
    pub folder_id: String,
    /// Entries per page, 1 to 1000 (default 100).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Entries to skip (offset paging; default 0).
    #[serde(default)]
    pub offset: Option<u64>,
    /// Marker paging: "" for the first page, then the `next_marker` of the last answer.
    #[serde(default)]
    pub marker: Option<String>,
    /// Also list sub-folders, down to this depth (0 to 3; default 0). Bounded to 1000 entries.
    #[serde(default)]
    pub depth: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreateArgs {
    /// The folder to create it in ("0" is the root).
    pub parent_folder_id: String,
    /// The new folder's name.
    pub name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UpdateArgs {
    pub folder_id: String,
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
    pub folder_id: String,
    /// The folder to copy it into.
    pub parent_folder_id: String,
    /// A name for the copy (default: the same name).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteArgs {
    pub folder_id: String,
    /// Delete a folder that is not empty, with everything in it (default false).
    #[serde(default)]
    pub recursive: bool,
}

/// A recursive listing: entries with their path below the listed folder.
#[derive(Debug, Serialize)]
struct Tree {
    folder_id: String,
    entries: Vec<TreeEntry>,
    truncated: bool,
}

#[derive(Debug, Serialize)]
struct TreeEntry {
    path: String,
    #[serde(flatten)]
    item: Item,
}

#[tool_router(router = folders_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_folder_get",
        description = "Get a Box folder's details: name, path, owner, description, shared link and the first items in it.",
        annotations(
            title = "Box: get folder",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_folder_get(
        &self,
        Parameters(a): Parameters<FolderId>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("folder_id", &a.folder_id)?;
                let call =
                    self.box_call(&context, &BOX_FOLDER_GET, Some(BoxItem::Folder(id.clone())))?;
                let folder = call.client().get_item(&call, ItemKind::Folder, &id).await?;
                Ok(Outcome::new(
                    format!(
                        "Folder {:?} (id {})",
                        folder.name.as_deref().unwrap_or(""),
                        folder.id
                    ),
                    &folder,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_folder_list",
        description = "List the items in a Box folder, a page at a time (offset or marker paging), optionally with sub-folders down to a small depth.",
        annotations(
            title = "Box: list folder",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_folder_list(
        &self,
        Parameters(a): Parameters<ListArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("folder_id", &a.folder_id)?;
                let limit = args::bounded("limit", a.limit, 1, 1000, 100)? as u32;
                let depth = args::bounded("depth", a.depth, 0, 3, 0)?;
                if a.marker.is_some() && a.offset.is_some() {
                    return Err(ToolError::invalid(
                        "marker",
                        "use either marker or offset paging, not both",
                    ));
                }
                let page = ListItems {
                    limit,
                    offset: Some(args::bounded("offset", a.offset, 0, 100_000, 0)?),
                    marker: a.marker.clone(),
                    ..Default::default()
                };
                let call = self.box_call(
                    &context,
                    &BOX_FOLDER_LIST,
                    Some(BoxItem::Folder(id.clone())),
                )?;
                let items = call.client().list_folder(&call, &id, &page).await?;
                if depth == 0 {
                    let summary = format!(
                        "{} item(s) in folder {} (showing {})",
                        items.total_count.unwrap_or(items.entries.len() as u64),
                        id,
                        items.entries.len()
                    );
                    return Ok(Outcome::new(summary, &items));
                }
                // Bounded breadth-first walk; the downscoped token covers the folder's descendants.
                let mut tree = Tree {
                    folder_id: id.clone(),
                    entries: Vec::new(),
                    truncated: false,
                };
                let mut queue = vec![(String::new(), items.entries, 1u64)];
                while let Some((prefix, entries, level)) = queue.pop() {
                    for item in entries {
                        if tree.entries.len() >= MAX_RECURSIVE_ENTRIES {
                            tree.truncated = true;
                            break;
                        }
                        let path = format!("{prefix}{}", item.name.as_deref().unwrap_or(&item.id));
                        if item.kind == "folder" && level <= depth {
                            let sub = ListItems {
                                limit: 1000,
                                offset: Some(0),
                                ..Default::default()
                            };
                            let children = call.client().list_folder(&call, &item.id, &sub).await?;
                            queue.push((format!("{path}/"), children.entries, level + 1));
                        }
                        tree.entries.push(TreeEntry { path, item });
                    }
                }
                let summary = format!(
                    "{} item(s) in folder {} down to depth {}{}",
                    tree.entries.len(),
                    id,
                    depth,
                    if tree.truncated { " (truncated)" } else { "" }
                );
                Ok(Outcome::new(summary, &tree))
            }
            .await,
        )
    }

    #[tool(
        name = "box_folder_create",
        description = "Create a folder in Box. Fails with name_in_use if the parent already has an item with that name.",
        annotations(
            title = "Box: create folder",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_folder_create(
        &self,
        Parameters(a): Parameters<CreateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let parent = args::box_id("parent_folder_id", &a.parent_folder_id)?;
                let name = args::item_name("name", &a.name)?;
                let call = self.box_call(
                    &context,
                    &BOX_FOLDER_CREATE,
                    Some(BoxItem::Folder(parent.clone())),
                )?;
                let folder = call.client().create_folder(&call, &parent, &name).await?;
                Ok(Outcome::new(
                    format!("Created folder {:?} (id {})", name, folder.id),
                    &folder,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_folder_update",
        description = "Rename a Box folder, move it into another folder, or change its description.",
        annotations(
            title = "Box: update folder",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_folder_update(
        &self,
        Parameters(a): Parameters<UpdateArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("folder_id", &a.folder_id)?;
                if id == "0" {
                    return Err(ToolError::invalid(
                        "folder_id",
                        "the root folder cannot be changed",
                    ));
                }
                let update = update_of(
                    a.name.as_deref(),
                    a.parent_folder_id.as_deref(),
                    a.description.as_deref(),
                )?;
                self.update_item(&context, &BOX_FOLDER_UPDATE, ItemKind::Folder, &id, &update)
                    .await
            }
            .await,
        )
    }

    #[tool(
        name = "box_folder_copy",
        description = "Copy a Box folder with everything in it into another folder.",
        annotations(
            title = "Box: copy folder",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_folder_copy(
        &self,
        Parameters(a): Parameters<CopyArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("folder_id", &a.folder_id)?;
                self.copy_item(
                    &context,
                    &BOX_FOLDER_COPY,
                    ItemKind::Folder,
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
        name = "box_folder_delete",
        description = "Delete a Box folder (it goes to the trash). A folder that is not empty needs recursive: true.",
        annotations(
            title = "Box: delete folder",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_folder_delete(
        &self,
        Parameters(a): Parameters<DeleteArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("folder_id", &a.folder_id)?;
                if id == "0" {
                    return Err(ToolError::invalid(
                        "folder_id",
                        "the root folder cannot be deleted",
                    ));
                }
                self.delete_item(
                    &context,
                    &BOX_FOLDER_DELETE,
                    ItemKind::Folder,
                    &id,
                    a.recursive,
                )
                .await
            }
            .await,
        )
    }
}
