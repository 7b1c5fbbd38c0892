//! Shared links and collaborations.

use rmcp::{
    ErrorData, RoleServer, handler::server::wrapper::Parameters, model::CallToolResult, schemars,
    service::RequestContext, tool, tool_router,
};
use serde::Deserialize;
use serde_json::json;

use super::{BoxTool, Outcome, ToolError, args, respond};
use crate::authz::Action;
use crate::{
    box_api::{ItemKind, sharing::CollaboratorRef},
    broker::BoxItem,
    mcp::BoxMcp,
};

pub const BOX_SHARED_LINK_SET: BoxTool = BoxTool {
    name: "box_shared_link_set",
    scopes: &["item_share"],
    action: Action::Write,
};
pub const BOX_SHARED_LINK_REMOVE: BoxTool = BoxTool {
    name: "box_shared_link_remove",
    scopes: &["item_share"],
    action: Action::Delete,
};
pub const BOX_COLLABORATIONS_LIST: BoxTool = BoxTool {
    name: "box_collaborations_list",
    scopes: &["item_share"],
    action: Action::Read,
};
pub const BOX_COLLABORATION_ADD: BoxTool = BoxTool {
    name: "box_collaboration_add",
    scopes: &["item_share"],
    action: Action::Write,
};
pub const BOX_COLLABORATION_REMOVE: BoxTool = BoxTool {
    name: "box_collaboration_remove",
    scopes: &["item_share"],
    action: Action::Delete,
};

const ROLES: &[&str] = &[
    "editor",
    "viewer",
    "previewer",
    "uploader",
    "previewer uploader",
    "viewer uploader",
    "co-owner",
];

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ItemRef {
    /// `file` or `folder`.
    pub item_type: String,
    /// The Box id of the file or folder.
    pub item_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SharedLinkArgs {
    /// `file` or `folder`.
    pub item_type: String,
    pub item_id: String,
    /// Who can use the link: `open` (anyone), `company`, or `collaborators`.
    pub access: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddCollaborationArgs {
    /// `file` or `folder`.
    pub item_type: String,
    pub item_id: String,
    /// The Box user id to invite (or give `user_login`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// The email (login) of the user to invite (or give `user_id`).
    #[serde(default)]
    pub user_login: Option<String>,
    /// editor, viewer, previewer, uploader, previewer uploader, viewer uploader or co-owner.
    pub role: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CollaborationId {
    /// The Box collaboration id (from box_collaborations_list).
    pub collaboration_id: String,
}

fn item(item_type: &str, item_id: &str) -> Result<(ItemKind, String, BoxItem), ToolError> {
    let id = args::box_id("item_id", item_id)?;
    match item_type {
        "file" => Ok((ItemKind::File, id.clone(), BoxItem::File(id))),
        "folder" => Ok((ItemKind::Folder, id.clone(), BoxItem::Folder(id))),
        _ => Err(ToolError::invalid("item_type", "must be file or folder")),
    }
}

#[tool_router(router = sharing_router, vis = "pub(crate)")]
impl BoxMcp {
    #[tool(
        name = "box_shared_link_set",
        description = "Create or change the shared link of a Box file or folder, with who may use it (open, company, collaborators). Returns the link URL.",
        annotations(
            title = "Box: set shared link",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_shared_link_set(
        &self,
        Parameters(a): Parameters<SharedLinkArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let (kind, id, resource) = item(&a.item_type, &a.item_id)?;
                let access =
                    args::one_of("access", &a.access, &["open", "company", "collaborators"])?;
                let call = self.box_call(&context, &BOX_SHARED_LINK_SET, Some(resource))?;
                let updated = call
                    .client()
                    .set_shared_link(&call, kind, &id, Some(&access))
                    .await?;
                let url = updated
                    .shared_link
                    .as_ref()
                    .and_then(|l| l.url.clone())
                    .unwrap_or_default();
                Ok(Outcome::new(
                    format!(
                        "Shared link ({access}) for {} {id}: {url}",
                        kind.type_name()
                    ),
                    &updated,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_shared_link_remove",
        description = "Remove the shared link of a Box file or folder.",
        annotations(
            title = "Box: remove shared link",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_shared_link_remove(
        &self,
        Parameters(a): Parameters<ItemRef>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let (kind, id, resource) = item(&a.item_type, &a.item_id)?;
                let call = self.box_call(&context, &BOX_SHARED_LINK_REMOVE, Some(resource))?;
                let updated = call
                    .client()
                    .set_shared_link(&call, kind, &id, None)
                    .await?;
                Ok(Outcome::new(
                    format!("Removed the shared link of {} {id}", kind.type_name()),
                    &updated,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_collaborations_list",
        description = "List who collaborates on a Box file or folder, with their roles.",
        annotations(
            title = "Box: list collaborations",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_collaborations_list(
        &self,
        Parameters(a): Parameters<ItemRef>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let (kind, id, resource) = item(&a.item_type, &a.item_id)?;
                let call = self.box_call(&context, &BOX_COLLABORATIONS_LIST, Some(resource))?;
                let collaborations = call.client().list_collaborations(&call, kind, &id).await?;
                Ok(Outcome::new(
                    format!(
                        "{} collaboration(s) on {} {id}",
                        collaborations.entries.len(),
                        kind.type_name()
                    ),
                    &collaborations,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_collaboration_add",
        description = "Invite a Box user (by id or email) to collaborate on a file or folder with a role.",
        annotations(
            title = "Box: add collaboration",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn box_collaboration_add(
        &self,
        Parameters(a): Parameters<AddCollaborationArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let (kind, id, resource) = item(&a.item_type, &a.item_id)?;
                let role = args::one_of("role", &a.role, ROLES)?;
                let user_id = a
                    .user_id
                    .as_deref()
                    .map(|u| args::box_id("user_id", u))
                    .transpose()?;
                let who = match (&user_id, &a.user_login) {
                    (Some(id), None) => CollaboratorRef::Id(id),
                    (None, Some(login)) if login.contains('@') && login.len() <= 254 => {
                        CollaboratorRef::Login(login)
                    }
                    (None, Some(_)) => {
                        return Err(ToolError::invalid("user_login", "must be an email address"));
                    }
                    _ => {
                        return Err(ToolError::invalid(
                            "user_id",
                            "give exactly one of user_id and user_login",
                        ));
                    }
                };
                let call = self.box_call(&context, &BOX_COLLABORATION_ADD, Some(resource))?;
                let collaboration = call
                    .client()
                    .add_collaboration(&call, kind, &id, who, &role)
                    .await?;
                Ok(Outcome::new(
                    format!(
                        "Added a {role} collaboration on {} {id} (id {})",
                        kind.type_name(),
                        collaboration.id
                    ),
                    &collaboration,
                ))
            }
            .await,
        )
    }

    #[tool(
        name = "box_collaboration_remove",
        description = "Remove a collaboration (a user's access to a file or folder) by its id.",
        annotations(
            title = "Box: remove collaboration",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn box_collaboration_remove(
        &self,
        Parameters(a): Parameters<CollaborationId>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        respond(
            async {
                let id = args::box_id("collaboration_id", &a.collaboration_id)?;
                let call = self.box_call(&context, &BOX_COLLABORATION_REMOVE, None)?;
                call.client().remove_collaboration(&call, &id).await?;
                Ok(Outcome::new(
                    format!("Removed collaboration {id}"),
                    &json!({ "deleted": { "type": "collaboration", "id": id } }),
                ))
            }
            .await,
        )
    }
}
