//! The policy's vocabulary for what a tool does, and the tools as the policy
//! sees them. The tools themselves live in [`crate::mcp::tools`]; they declare an
//! [`Action`] each, and the server hands their names and actions to the
//! [`super::Authorizer`] as data, so the policy never depends on the tools' code.

use serde::Serialize;

/// What a tool does to Box content, as policy lines name it (`read`, `write`,
/// `delete`). Declared next to each tool, so policy and scopes cannot drift from
/// what the tool does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Read,
    Write,
    Delete,
}

impl Action {
    /// The action as policies write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Delete => "delete",
        }
    }

    /// The action written `text` in a policy or a policy table.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "read" => Self::Read,
            "write" => Self::Write,
            "delete" => Self::Delete,
            _ => return None,
        })
    }
}

/// One tool of the server, as the policy sees it: its name and its action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyTool {
    pub name: String,
    pub action: Action,
}

impl PolicyTool {
    pub fn new(name: impl Into<String>, action: Action) -> Self {
        Self {
            name: name.into(),
            action,
        }
    }
}

/// The server's tools, as the policy sees them: for warnings about lines that
/// match no tool, and for looking a tool up by name in a policy table.
#[derive(Debug, Clone, Default)]
pub struct ToolList(std::sync::Arc<[PolicyTool]>);

impl ToolList {
    pub fn new(tools: impl IntoIterator<Item = PolicyTool>) -> Self {
        Self(tools.into_iter().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &PolicyTool> {
        self.0.iter()
    }

    /// The tool called `name`.
    pub fn find(&self, name: &str) -> Option<&PolicyTool> {
        self.0.iter().find(|t| t.name == name)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_read_as_they_are_written() {
        for action in [Action::Read, Action::Write, Action::Delete] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Action::parse("Read"), None);
        assert_eq!(Action::parse("*"), None);
    }
}
