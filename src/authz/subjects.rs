//! The subjects a caller is known by, and the Casbin role manager that lets one
//! request carry all of them.
//!
//! A caller has several subjects at once: `role:<role>` for each role in the
//! token, `group:<group>` for each group, `user:<username>` and `sub:<subject>`.
//! Casbin's request has one subject, so the request carries them joined by a
//! newline, and [`SubjectGraph::has_link`] (what the matcher's `g(r.sub, p.sub)`
//! calls) answers for the whole set: one scan of the policy, in which a deny line
//! for any of the caller's subjects wins over an allow line for another.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::OnceLock,
};

use casbin::{MatchingFn, RoleManager};

use crate::auth::Principal;

/// Separates a caller's subjects in a Casbin request. Policy names cannot hold it
/// (a policy line is one line), and only names found in the policy are sent.
pub(crate) const SEPARATOR: char = '\n';

/// What a subject names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SubjectKind {
    Role,
    Group,
    User,
    Sub,
}

impl SubjectKind {
    pub const ALL: [SubjectKind; 4] = [Self::Role, Self::Group, Self::User, Self::Sub];

    /// The prefix it is written with in policies: `role:`, `group:`, `user:`, `sub:`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Role => "role:",
            Self::Group => "group:",
            Self::User => "user:",
            Self::Sub => "sub:",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// One subject: a kind and a name, e.g. `role:mcp-viewer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject<'a> {
    pub kind: SubjectKind,
    pub name: &'a str,
}

impl<'a> Subject<'a> {
    pub fn new(kind: SubjectKind, name: &'a str) -> Self {
        Self { kind, name }
    }

    /// Reads `role:…`, `group:…`, `user:…` or `sub:…` (a name is not empty).
    pub fn parse(s: &'a str) -> Option<Self> {
        SubjectKind::ALL.into_iter().find_map(|kind| {
            s.strip_prefix(kind.prefix())
                .filter(|name| !name.is_empty())
                .map(|name| Self { kind, name })
        })
    }

    /// Whether `text` is this subject written out (`role:mcp-viewer`).
    pub(crate) fn is_written_as(&self, text: &str) -> bool {
        text.strip_prefix(self.kind.prefix()) == Some(self.name)
    }
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.kind.prefix(), self.name)
    }
}

/// The subjects of a principal: its roles, its groups (a leading `/`, as Keycloak
/// writes full group paths, removed), its username and its subject id.
pub fn principal_subjects(principal: &Principal) -> impl Iterator<Item = Subject<'_>> {
    let roles = principal
        .roles
        .iter()
        .map(|r| Subject::new(SubjectKind::Role, r));
    let groups = principal
        .groups
        .iter()
        .map(|g| Subject::new(SubjectKind::Group, g.strip_prefix('/').unwrap_or(g)));
    let user = principal
        .username
        .iter()
        .map(|u| Subject::new(SubjectKind::User, u));
    let sub = std::iter::once(Subject::new(SubjectKind::Sub, &principal.subject));
    roles
        .chain(groups)
        .chain(user)
        .chain(sub)
        .filter(|s| !s.name.is_empty())
}

/// The role links (`g, member, role`) with their transitive closure, as Casbin's
/// role manager. `has_link(a, b)` is true when any of the newline-separated
/// subjects in `a` is `b` or reaches `b` through links.
#[derive(Default)]
pub(crate) struct SubjectGraph {
    links: HashMap<String, Vec<String>>,
    /// Every name with a link mapped to all the roles it reaches; built on first
    /// use after the links change.
    closure: OnceLock<HashMap<String, HashSet<String>>>,
}

impl SubjectGraph {
    fn closure(&self) -> &HashMap<String, HashSet<String>> {
        self.closure.get_or_init(|| closure_of(&self.links))
    }
}

/// The transitive closure of `links` (cycles are harmless here; the loader
/// refuses them before they get here).
pub(crate) fn closure_of(links: &HashMap<String, Vec<String>>) -> HashMap<String, HashSet<String>> {
    links
        .keys()
        .map(|start| {
            let mut reached: HashSet<String> = HashSet::new();
            let mut stack: Vec<&String> = links[start].iter().collect();
            while let Some(role) = stack.pop() {
                if reached.insert(role.clone())
                    && let Some(next) = links.get(role)
                {
                    stack.extend(next);
                }
            }
            (start.clone(), reached)
        })
        .collect()
}

impl RoleManager for SubjectGraph {
    fn clear(&mut self) {
        self.links.clear();
        self.closure = OnceLock::new();
    }

    fn add_link(&mut self, name1: &str, name2: &str, _domain: Option<&str>) {
        let roles = self.links.entry(name1.to_string()).or_default();
        if !roles.iter().any(|r| r == name2) {
            roles.push(name2.to_string());
        }
        self.closure = OnceLock::new();
    }

    fn matching_fn(
        &mut self,
        _role_matching_fn: Option<MatchingFn>,
        _domain_matching_fn: Option<MatchingFn>,
    ) {
    }

    fn delete_link(
        &mut self,
        name1: &str,
        name2: &str,
        _domain: Option<&str>,
    ) -> casbin::Result<()> {
        if let Some(roles) = self.links.get_mut(name1) {
            roles.retain(|r| r != name2);
        }
        self.closure = OnceLock::new();
        Ok(())
    }

    fn has_link(&self, name1: &str, name2: &str, _domain: Option<&str>) -> bool {
        let closure = self.closure();
        name1.split(SEPARATOR).any(|subject| {
            subject == name2
                || closure
                    .get(subject)
                    .is_some_and(|roles| roles.contains(name2))
        })
    }

    fn get_roles(&self, name: &str, _domain: Option<&str>) -> Vec<String> {
        self.links.get(name).cloned().unwrap_or_default()
    }

    fn get_users(&self, name: &str, _domain: Option<&str>) -> Vec<String> {
        let mut users: Vec<String> = self
            .links
            .iter()
            .filter(|(_, roles)| roles.iter().any(|r| r == name))
            .map(|(user, _)| user.clone())
            .collect();
        users.sort();
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let s = Subject::parse("role:mcp-viewer").unwrap();
        assert_eq!(s, Subject::new(SubjectKind::Role, "mcp-viewer"));
        assert_eq!(s.to_string(), "role:mcp-viewer");
        assert!(s.is_written_as("role:mcp-viewer"));
        assert!(!s.is_written_as("group:mcp-viewer"));
        assert_eq!(
            Subject::parse("sub:a:b").unwrap(),
            Subject::new(SubjectKind::Sub, "a:b")
        );
        assert!(Subject::parse("role:").is_none());
        assert!(Subject::parse("mcp-viewer").is_none());
        assert!(Subject::parse("Role:x").is_none());
    }

    #[test]
    fn composite_has_link() {
        let mut g = SubjectGraph::default();
        g.add_link("role:admin", "role:editor", None);
        g.add_link("role:editor", "role:viewer", None);
        g.add_link("group:admins", "role:admin", None);
        assert!(g.has_link("group:admins", "role:viewer", None));
        assert!(g.has_link("user:x\ngroup:admins", "role:viewer", None));
        assert!(g.has_link("user:x\nrole:editor", "user:x", None));
        assert!(!g.has_link("user:x\nrole:editor", "role:admin", None));
        assert!(!g.has_link("", "role:admin", None));
        g.delete_link("role:editor", "role:viewer", None).unwrap();
        assert!(!g.has_link("group:admins", "role:viewer", None));
        assert_eq!(g.get_users("role:admin", None), vec!["group:admins"]);
        assert_eq!(g.get_roles("role:admin", None), vec!["role:editor"]);
        g.clear();
        assert!(!g.has_link("group:admins", "role:admin", None));
    }
}
