//! Who may see and do what: owners, collaborators and their roles.

use super::{Item, Store};

/// Collaboration roles, as Box names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    CoOwner,
    Editor,
    ViewerUploader,
    PreviewerUploader,
    Viewer,
    Previewer,
    Uploader,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Editor,
        Role::Viewer,
        Role::Previewer,
        Role::Uploader,
        Role::PreviewerUploader,
        Role::ViewerUploader,
        Role::CoOwner,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CoOwner => "co-owner",
            Role::Editor => "editor",
            Role::ViewerUploader => "viewer uploader",
            Role::PreviewerUploader => "previewer uploader",
            Role::Viewer => "viewer",
            Role::Previewer => "previewer",
            Role::Uploader => "uploader",
        }
    }

    fn rank(self) -> u8 {
        match self {
            Role::CoOwner => 7,
            Role::Editor => 6,
            Role::ViewerUploader => 5,
            Role::PreviewerUploader => 4,
            Role::Viewer => 3,
            Role::Previewer => 2,
            Role::Uploader => 1,
        }
    }
}

/// How a user reaches an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Owner,
    Collaborator(Role),
}

/// What a user may do to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms {
    pub preview: bool,
    pub download: bool,
    pub upload: bool,
    pub rename: bool,
    pub delete: bool,
    pub share: bool,
    pub set_share_access: bool,
    pub invite: bool,
}

impl Access {
    pub fn perms(self) -> Perms {
        let all = Perms {
            preview: true,
            download: true,
            upload: true,
            rename: true,
            delete: true,
            share: true,
            set_share_access: true,
            invite: true,
        };
        let none = Perms::default();
        match self {
            Access::Owner | Access::Collaborator(Role::CoOwner | Role::Editor) => all,
            Access::Collaborator(Role::ViewerUploader) => Perms {
                preview: true,
                download: true,
                upload: true,
                share: true,
                ..none
            },
            Access::Collaborator(Role::PreviewerUploader) => Perms {
                preview: true,
                upload: true,
                ..none
            },
            Access::Collaborator(Role::Viewer) => Perms {
                preview: true,
                download: true,
                share: true,
                ..none
            },
            Access::Collaborator(Role::Previewer) => Perms {
                preview: true,
                ..none
            },
            Access::Collaborator(Role::Uploader) => Perms {
                upload: true,
                ..none
            },
        }
    }
}

impl Store {
    /// How `user` reaches item `id`, if at all: as its owner, or through a
    /// collaboration on it or on a folder above it (the most generous role wins).
    pub fn access(&self, user: &str, id: &str) -> Option<Access> {
        let item = self.items.get(id)?;
        if item.owner == user {
            return Some(Access::Owner);
        }
        let mut chain = vec![item];
        chain.extend(self.ancestors(id));
        let best = self
            .collaborations
            .values()
            .filter(|c| c.user == user && chain.iter().any(|i| i.id == c.item))
            .map(|c| c.role)
            .max_by_key(|r| r.rank());
        best.map(Access::Collaborator)
    }

    /// The folder `item` appears in for `user`: its parent if the user can see the
    /// parent, otherwise the user's root (where Box shows collaborated folders).
    pub fn visible_parent(&self, user: &str, item: &Item) -> Option<&Item> {
        let parent = self.items.get(item.parent.as_deref()?)?;
        self.access(user, &parent.id).map(|_| parent)
    }

    /// The path from the user's root to `item`'s parent, as the user sees it:
    /// the folders above the item (outermost first) that the user can see.
    pub fn visible_path(&self, user: &str, item: &Item) -> Vec<&Item> {
        let mut path = Vec::new();
        let mut cur = self.visible_parent(user, item);
        while let Some(folder) = cur {
            if path.iter().any(|p: &&Item| p.id == folder.id) {
                break;
            }
            path.push(folder);
            cur = self.visible_parent(user, folder);
        }
        path.reverse();
        path
    }

    /// What `user` sees in their root folder: their own top-level items and the
    /// outermost items collaborated with them.
    pub fn root_entries(&self, user: &str) -> Vec<&Item> {
        self.items
            .values()
            .filter(|i| {
                if i.owner == user {
                    return i.parent.is_none();
                }
                self.access(user, &i.id).is_some() && self.visible_parent(user, i).is_none()
            })
            .collect()
    }

    /// Every item `user` can see.
    pub fn visible_items(&self, user: &str) -> Vec<&Item> {
        self.items
            .values()
            .filter(|i| self.access(user, &i.id).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    const ALICE: &str = "31000001";
    const BOB: &str = "31000002";
    const CAROL: &str = "31000003";
    const DAVE: &str = "31000004";
    const TEAM: &str = "200000000010";
    const FALCON_REQS: &str = "400000001003";
    const ALICE_NOTES: &str = "400000000101";

    fn store() -> Store {
        Store::from_seed(&Seed::builtin().unwrap()).unwrap()
    }

    #[test]
    fn owners_and_collaborators_reach_items() {
        let s = store();
        assert_eq!(s.access(ALICE, ALICE_NOTES), Some(Access::Owner));
        assert_eq!(s.access(BOB, ALICE_NOTES), None);
        assert_eq!(
            s.access(BOB, FALCON_REQS),
            Some(Access::Collaborator(Role::Editor))
        );
        assert_eq!(
            s.access(CAROL, FALCON_REQS),
            Some(Access::Collaborator(Role::Viewer))
        );
        assert_eq!(s.access(DAVE, TEAM), None);
        assert!(!Access::Collaborator(Role::Viewer).perms().upload);
        assert!(Access::Collaborator(Role::Editor).perms().delete);
    }

    #[test]
    fn collaborated_folders_appear_in_the_collaborators_root() {
        let s = store();
        let bob_root: Vec<_> = s.root_entries(BOB).iter().map(|i| i.name.clone()).collect();
        assert!(bob_root.contains(&"Team Projects".to_string()));
        assert!(bob_root.contains(&"Bob Private".to_string()));
        assert!(!bob_root.contains(&"Alice Private".to_string()));
        let reqs = s.item(FALCON_REQS).unwrap();
        let path: Vec<_> = s
            .visible_path(BOB, reqs)
            .iter()
            .map(|i| i.name.clone())
            .collect();
        assert_eq!(path, ["Team Projects", "Falcon"]);
    }
}
