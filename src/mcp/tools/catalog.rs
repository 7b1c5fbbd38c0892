//! Every tool's declaration in one list: its effect (read, write, delete) and
//! the Box scopes of its downscoped token, as declared next to its code. The
//! policy and the OAuth scope gate read it, so neither can drift from the tools.

use super::{BoxTool, ai::*, files::*, folders::*, metadata::*, search::*, sharing::*, users::*};
use crate::authz::{Action, PolicyTool, ToolList};

/// `whoami` touches no Box content.
pub const WHOAMI: BoxTool = BoxTool {
    name: "whoami",
    scopes: &[],
    action: Action::Read,
};

pub const ALL: &[&BoxTool] = &[
    &WHOAMI,
    &BOX_WHOAMI,
    &BOX_SEARCH,
    &BOX_FOLDER_GET,
    &BOX_FOLDER_LIST,
    &BOX_FOLDER_CREATE,
    &BOX_FOLDER_UPDATE,
    &BOX_FOLDER_COPY,
    &BOX_FOLDER_DELETE,
    &BOX_FILE_GET,
    &BOX_FILE_READ_TEXT,
    &BOX_FILE_DOWNLOAD,
    &BOX_FILE_UPLOAD,
    &BOX_FILE_UPDATE,
    &BOX_FILE_COPY,
    &BOX_FILE_DELETE,
    &BOX_SHARED_LINK_SET,
    &BOX_SHARED_LINK_REMOVE,
    &BOX_COLLABORATIONS_LIST,
    &BOX_COLLABORATION_ADD,
    &BOX_COLLABORATION_REMOVE,
    &BOX_METADATA_TEMPLATES_LIST,
    &BOX_METADATA_GET,
    &BOX_METADATA_SET,
    &BOX_METADATA_DELETE,
    &BOX_AI_ASK,
    &BOX_AI_EXTRACT,
    &BOX_AI_EXTRACT_STRUCTURED,
];

/// Every tool as the policy sees it (name and action), for the [`Authorizer`].
///
/// [`Authorizer`]: crate::authz::Authorizer
pub fn policy_tools() -> ToolList {
    ToolList::new(ALL.iter().map(|t| PolicyTool::new(t.name, t.action)))
}

/// The declaration of the tool called `name`.
pub fn find(name: &str) -> Option<&'static BoxTool> {
    ALL.iter().copied().find(|t| t.name == name)
}

/// The OAuth scopes a call of a tool with this effect needs: every tool needs
/// `mcp:tools`; tools that change data also need `box:write`.
pub fn oauth_scopes(action: Action) -> &'static [&'static str] {
    match action {
        Action::Read => &["mcp:tools"],
        Action::Write | Action::Delete => &["mcp:tools", "box:write"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_lists_every_routed_tool_once() {
        let routed: Vec<String> = super::super::router()
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let mut declared: Vec<&str> = ALL.iter().map(|t| t.name).collect();
        declared.sort_unstable();
        let before = declared.len();
        declared.dedup();
        assert_eq!(before, declared.len(), "a tool is declared twice");
        assert_eq!(routed, declared);
    }

    #[test]
    fn annotations_agree_with_the_declared_effect() {
        for tool in super::super::router().list_all() {
            let declared = find(&tool.name).unwrap();
            let a = tool
                .annotations
                .as_ref()
                .expect("every tool has annotations");
            assert_eq!(
                a.read_only_hint,
                Some(declared.action == Action::Read),
                "{}",
                tool.name
            );
            assert_eq!(
                a.destructive_hint,
                Some(declared.action == Action::Delete),
                "{}",
                tool.name
            );
        }
    }
}
