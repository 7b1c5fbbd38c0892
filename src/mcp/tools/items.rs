//! What the file and folder tools share: the update, copy and delete flows are
//! the same for both kinds, only the [`ItemKind`] differs.

use rmcp::{RoleServer, service::RequestContext};
use serde_json::json;

use super::{BoxTool, Outcome, ToolError, args};
use crate::{
    box_api::{ItemKind, ItemUpdate},
    broker::BoxItem,
    mcp::BoxMcp,
};

/// The broker's name for one item of `kind`.
fn item(kind: ItemKind, id: &str) -> BoxItem {
    match kind {
        ItemKind::File => BoxItem::File(id.to_string()),
        ItemKind::Folder => BoxItem::Folder(id.to_string()),
    }
}

/// Validates the optional parts of an update; at least one must be given.
pub(crate) fn update_of(
    name: Option<&str>,
    parent: Option<&str>,
    description: Option<&str>,
) -> Result<ItemUpdate, ToolError> {
    let update = ItemUpdate {
        name: name.map(|n| args::item_name("name", n)).transpose()?,
        parent_id: parent
            .map(|p| args::box_id("parent_folder_id", p))
            .transpose()?,
        description: description
            .map(|d| {
                if d.chars().count() > 256 {
                    Err(ToolError::invalid(
                        "description",
                        "must be at most 256 characters",
                    ))
                } else {
                    Ok(d.to_string())
                }
            })
            .transpose()?,
    };
    if update.name.is_none() && update.parent_id.is_none() && update.description.is_none() {
        return Err(ToolError::invalid(
            "name",
            "give at least one of name, parent_folder_id, description",
        ));
    }
    Ok(update)
}

impl BoxMcp {
    /// Renames, moves or describes one item.
    pub(crate) async fn update_item(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &BoxTool,
        kind: ItemKind,
        id: &str,
        update: &ItemUpdate,
    ) -> Result<Outcome, ToolError> {
        // A move touches two folders: the token is not restricted to one item.
        let resource = update.parent_id.is_none().then(|| item(kind, id));
        let call = self.box_call(context, tool, resource)?;
        let updated = call.client().update_item(&call, kind, id, update).await?;
        Ok(Outcome::new(
            format!(
                "Updated {} {:?} (id {})",
                kind.type_name(),
                updated.name.as_deref().unwrap_or(""),
                updated.id
            ),
            &updated,
        ))
    }

    /// Copies one item into a folder, optionally under a new name.
    pub(crate) async fn copy_item(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &BoxTool,
        kind: ItemKind,
        id: &str,
        parent_folder_id: &str,
        name: Option<&str>,
    ) -> Result<Outcome, ToolError> {
        let parent = args::box_id("parent_folder_id", parent_folder_id)?;
        let name = name.map(|n| args::item_name("name", n)).transpose()?;
        // Source and destination differ: the token is not restricted to one item.
        let call = self.box_call(context, tool, None)?;
        let copy = call
            .client()
            .copy_item(&call, kind, id, &parent, name.as_deref())
            .await?;
        Ok(Outcome::new(
            format!(
                "Copied {} {id} to folder {parent} (new id {})",
                kind.type_name(),
                copy.id
            ),
            &copy,
        ))
    }

    /// Deletes one item (recursively, for a folder that is not empty).
    pub(crate) async fn delete_item(
        &self,
        context: &RequestContext<RoleServer>,
        tool: &BoxTool,
        kind: ItemKind,
        id: &str,
        recursive: bool,
    ) -> Result<Outcome, ToolError> {
        let call = self.box_call(context, tool, Some(item(kind, id)))?;
        call.client()
            .delete_item(&call, kind, id, recursive)
            .await?;
        Ok(Outcome::new(
            format!("Deleted {} {id}", kind.type_name()),
            &json!({ "deleted": { "type": kind.type_name(), "id": id } }),
        ))
    }
}
