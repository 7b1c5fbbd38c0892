//! Box scopes: which scope implies which, and which operation needs which scope.
//!
//! This is the sandbox side of the contract in `docs/box-scopes.md`; keep the two in
//! step. Box does not document the scope of every endpoint (search and AI in
//! particular), so the table is ours and lives only here.

use std::collections::BTreeSet;

/// Scopes a token exchange may ask for (Box's downscope scopes plus the standard ones
/// the contract allows). Anything else is `invalid_scope`.
pub const KNOWN_SCOPES: &[&str] = &[
    "base_explorer",
    "base_picker",
    "base_preview",
    "base_upload",
    "base_sidebar",
    "item_preview",
    "item_download",
    "item_upload",
    "item_rename",
    "item_share",
    "item_delete",
    "annotation_edit",
    "annotation_view_all",
    "annotation_view_self",
    "root_readonly",
    "root_readwrite",
    "manage_groups",
    "manage_managed_users",
    "manage_enterprise_properties",
    "manage_webhook",
    "ai.readwrite",
];

/// Scopes that `ResourceScope.scope` in Box's OpenAPI description can name; only
/// these appear in a token response's `restricted_to`.
pub const RESOURCE_SCOPES: &[&str] = &[
    "annotation_edit",
    "annotation_view_all",
    "annotation_view_self",
    "base_explorer",
    "base_picker",
    "base_preview",
    "base_upload",
    "item_delete",
    "item_download",
    "item_preview",
    "item_rename",
    "item_share",
    "item_upload",
    "item_read",
];

/// The scopes that imply `scope` (besides itself).
fn implied_by(scope: &str) -> &'static [&'static str] {
    match scope {
        "item_preview" => &["base_explorer", "root_readonly", "root_readwrite"],
        "item_download" => &["root_readonly", "root_readwrite"],
        "item_upload" | "item_rename" | "item_delete" | "item_share" => &["root_readwrite"],
        "root_readonly" => &["root_readwrite"],
        _ => &[],
    }
}

/// Whether a token carrying `carried` holds `scope`: it carries it, or a scope that
/// implies it.
pub fn holds(carried: &BTreeSet<String>, scope: &str) -> bool {
    carried.contains(scope) || implied_by(scope).iter().any(|s| carried.contains(*s))
}

/// Whether `scope` is one a token may carry.
pub fn is_known(scope: &str) -> bool {
    KNOWN_SCOPES.contains(&scope)
}

/// What a request does, for the purpose of scope checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `GET /users/me`
    CurrentUser,
    /// `GET /users?filter_term=`
    FindUsers,
    /// Folder and file info, folder items.
    ReadItem,
    /// `GET /search`
    Search,
    /// Download and extracted text.
    Download,
    /// Create folder, copy, upload, new version.
    Upload,
    /// Rename, move, description.
    Rename,
    /// Delete.
    Delete,
    /// Shared links and collaborations.
    Share,
    /// Metadata templates and reading metadata.
    ReadMetadata,
    /// Writing metadata.
    WriteMetadata,
    /// AI ask and extract.
    Ai,
}

impl Operation {
    /// The scopes a token must hold for this operation (all of them).
    pub fn required_scopes(self) -> &'static [&'static str] {
        match self {
            Operation::CurrentUser => &[],
            Operation::FindUsers => &["root_readonly"],
            Operation::ReadItem | Operation::Search | Operation::ReadMetadata => &["item_preview"],
            Operation::Download => &["item_download"],
            Operation::Upload | Operation::WriteMetadata => &["item_upload"],
            Operation::Rename => &["item_rename"],
            Operation::Delete => &["item_delete"],
            Operation::Share => &["item_share"],
            Operation::Ai => &["ai.readwrite", "item_download"],
        }
    }

    /// The required scopes that `carried` does not hold.
    pub fn missing(self, carried: &BTreeSet<String>) -> Vec<&'static str> {
        self.required_scopes()
            .iter()
            .copied()
            .filter(|s| !holds(carried, s))
            .collect()
    }
}

/// Parse a space-separated scope list.
pub fn parse_list(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(s: &str) -> BTreeSet<String> {
        parse_list(s)
    }

    #[test]
    fn implication_follows_the_contract() {
        let rw = set("root_readwrite");
        for s in [
            "item_preview",
            "item_download",
            "item_upload",
            "item_rename",
            "item_delete",
            "item_share",
            "root_readonly",
        ] {
            assert!(holds(&rw, s), "root_readwrite should imply {s}");
        }
        assert!(!holds(&rw, "ai.readwrite"));
        let ro = set("root_readonly");
        assert!(holds(&ro, "item_preview") && holds(&ro, "item_download"));
        assert!(!holds(&ro, "item_upload") && !holds(&ro, "root_readwrite"));
        let explorer = set("base_explorer");
        assert!(holds(&explorer, "item_preview") && !holds(&explorer, "item_download"));
        // No implication upwards.
        assert!(!holds(&set("item_preview item_download"), "root_readonly"));
    }

    #[test]
    fn operations_need_their_scopes() {
        assert!(Operation::CurrentUser.missing(&set("")).is_empty());
        assert_eq!(
            Operation::Ai.missing(&set("item_download")),
            vec!["ai.readwrite"]
        );
        assert!(
            Operation::Ai
                .missing(&set("root_readwrite ai.readwrite"))
                .is_empty()
        );
        assert_eq!(
            Operation::FindUsers.missing(&set("item_preview")),
            vec!["root_readonly"]
        );
        assert!(Operation::Delete.missing(&set("item_delete")).is_empty());
    }
}
