//! Collaborations: who else may reach a folder or file, and with which role.

use super::{Collaboration, Role, Store};
use crate::clock;

impl Store {
    /// The collaborations directly on an item.
    pub fn collaborations_on(&self, item: &str) -> Vec<&Collaboration> {
        self.collaborations
            .values()
            .filter(|c| c.item == item)
            .collect()
    }

    /// Add a collaboration; returns its id.
    pub fn add_collaboration(&mut self, item: &str, user: &str, role: Role, by: &str) -> String {
        let id = self.next_id();
        let now = clock::now();
        self.collaborations.insert(
            id.clone(),
            Collaboration {
                id: id.clone(),
                item: item.to_string(),
                user: user.to_string(),
                role,
                created_by: by.to_string(),
                created_at: now.clone(),
                modified_at: now,
            },
        );
        id
    }

    pub fn remove_collaboration(&mut self, id: &str) -> Option<Collaboration> {
        self.collaborations.remove(id)
    }
}
