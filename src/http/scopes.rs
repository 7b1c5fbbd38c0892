//! OAuth scope checks, with the configured scope hierarchy: a token holding a
//! broader scope satisfies a check for a narrower one.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::auth::Principal;

#[derive(Debug, Clone, Default)]
pub struct ScopeCheck {
    /// narrower scope → every broader scope that includes it (transitively).
    broader: HashMap<String, Vec<String>>,
}

impl ScopeCheck {
    pub fn new(hierarchy: &BTreeMap<String, Vec<String>>) -> Self {
        let mut broader: HashMap<String, HashSet<String>> = HashMap::new();
        for parent in hierarchy.keys() {
            // Everything reachable from `parent` is included by it.
            let mut stack: Vec<&String> = hierarchy[parent].iter().collect();
            let mut seen: HashSet<&String> = HashSet::new();
            while let Some(scope) = stack.pop() {
                if !seen.insert(scope) {
                    continue;
                }
                broader
                    .entry(scope.clone())
                    .or_default()
                    .insert(parent.clone());
                if let Some(children) = hierarchy.get(scope) {
                    stack.extend(children);
                }
            }
        }
        Self {
            broader: broader
                .into_iter()
                .map(|(scope, parents)| (scope, parents.into_iter().collect()))
                .collect(),
        }
    }

    /// True when the principal holds `scope` or a scope that includes it.
    pub fn satisfied(&self, principal: &Principal, scope: &str) -> bool {
        principal.has_scope(scope)
            || self
                .broader
                .get(scope)
                .is_some_and(|parents| parents.iter().any(|p| principal.has_scope(p)))
    }

    /// The scopes of `needed` that are not satisfied, in order.
    pub fn missing(&self, principal: &Principal, needed: &[impl AsRef<str>]) -> Vec<String> {
        needed
            .iter()
            .map(AsRef::as_ref)
            .filter(|s| !self.satisfied(principal, s))
            .map(str::to_owned)
            .collect()
    }

    /// True when every scope in `needed` is satisfied.
    pub fn all(&self, principal: &Principal, needed: &[impl AsRef<str>]) -> bool {
        needed.iter().all(|s| self.satisfied(principal, s.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(scopes: &[&str]) -> Principal {
        Principal {
            issuer: "i".into(),
            subject: "s".into(),
            username: None,
            email: None,
            email_verified: false,
            client_id: None,
            roles: vec![],
            groups: vec![],
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            box_user_id: None,
            valid_until: u64::MAX,
            bound_key: None,
        }
    }

    #[test]
    fn broader_scopes_satisfy_narrower_ones_transitively() {
        let mut h = BTreeMap::new();
        h.insert("box:admin".to_string(), vec!["box:write".to_string()]);
        h.insert("box:write".to_string(), vec!["box:read".to_string()]);
        let check = ScopeCheck::new(&h);
        let admin = principal(&["box:admin"]);
        assert!(check.satisfied(&admin, "box:write"));
        assert!(check.satisfied(&admin, "box:read"));
        assert!(!check.satisfied(&admin, "mcp:tools"));
        let reader = principal(&["box:read"]);
        assert!(!check.satisfied(&reader, "box:write"));
        assert!(check.all(
            &principal(&["box:write", "mcp:tools"]),
            &["mcp:tools", "box:read"]
        ));
    }

    #[test]
    fn cycles_do_not_loop() {
        let mut h = BTreeMap::new();
        h.insert("a".to_string(), vec!["b".to_string()]);
        h.insert("b".to_string(), vec!["a".to_string()]);
        let check = ScopeCheck::new(&h);
        assert!(check.satisfied(&principal(&["a"]), "b"));
        assert!(check.satisfied(&principal(&["b"]), "a"));
    }
}
