//! The folder tree: creating, renaming, moving, copying and deleting items.

use bytes::Bytes;

use super::{FileData, Item, ItemKind, SharedLink, Store};
use crate::{clock, ids};

/// Where an item lives: a user's root folder (id `0` for that user) or a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Container {
    Root(String),
    Folder(String),
}

impl Container {
    /// The container an item is in.
    pub fn of(item: &Item) -> Container {
        match &item.parent {
            Some(p) => Container::Folder(p.clone()),
            None => Container::Root(item.owner.clone()),
        }
    }

    fn parent_field(&self) -> Option<String> {
        match self {
            Container::Root(_) => None,
            Container::Folder(id) => Some(id.clone()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NameInvalid(String),
    /// Carries the item that already holds the name; the API layer renders it
    /// into the error's `conflicts` (the store does not know Box's JSON shapes).
    #[error("an item with the same name already exists")]
    NameInUse(Box<Item>),
    #[error("the folder is not empty")]
    FolderNotEmpty,
    #[error("an item cannot be moved or copied into itself")]
    IntoItself,
    #[error("not found")]
    NotFound,
}

/// A new file or folder.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub kind: ItemKind,
    pub name: String,
    pub parent: Container,
    pub by: String,
    pub description: String,
    pub content: Option<Bytes>,
    pub content_created_at: Option<String>,
    pub content_modified_at: Option<String>,
}

/// Box's name rules: 1 to 255 characters, no `/` or `\`, no leading or trailing
/// spaces, not `.` or `..`, no control characters.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let invalid = name.is_empty()
        || name.chars().count() > 255
        || name.contains(['/', '\\'])
        || name == "."
        || name == ".."
        || name.trim() != name
        || name.chars().any(char::is_control);
    if invalid {
        return Err(StoreError::NameInvalid(format!(
            "Item name '{}' is invalid",
            name.chars().take(300).collect::<String>()
        )));
    }
    Ok(())
}

impl Store {
    /// The owner of a container's contents.
    pub fn container_owner(&self, container: &Container) -> Option<String> {
        match container {
            Container::Root(user) => Some(user.clone()),
            Container::Folder(id) => self.items.get(id).map(|i| i.owner.clone()),
        }
    }

    /// An item in `container` whose name equals `name` (case-insensitively),
    /// other than `except`.
    pub fn name_clash(
        &self,
        container: &Container,
        name: &str,
        except: Option<&str>,
    ) -> Option<&Item> {
        let lower = name.to_lowercase();
        self.children(container)
            .into_iter()
            .find(|i| Some(i.id.as_str()) != except && i.name.to_lowercase() == lower)
    }

    fn check_free(
        &self,
        container: &Container,
        name: &str,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        match self.name_clash(container, name, except) {
            Some(other) => Err(StoreError::NameInUse(Box::new(other.clone()))),
            None => Ok(()),
        }
    }

    /// Create a file or folder; returns its id.
    pub fn create(&mut self, new: NewItem) -> Result<String, StoreError> {
        validate_name(&new.name)?;
        self.check_free(&new.parent, &new.name, None)?;
        let owner = self
            .container_owner(&new.parent)
            .ok_or(StoreError::NotFound)?;
        let id = self.next_id();
        let now = clock::now();
        let file = match (new.kind, new.content) {
            (ItemKind::File, content) => {
                let content = content.unwrap_or_default();
                Some(FileData {
                    sha1: ids::sha1_hex(&content),
                    content,
                    version_id: self.next_id(),
                    version_number: 1,
                })
            }
            (ItemKind::Folder, _) => None,
        };
        let item = Item {
            id: id.clone(),
            kind: new.kind,
            name: new.name,
            description: new.description,
            parent: new.parent.parent_field(),
            owner,
            created_by: new.by.clone(),
            modified_by: new.by,
            created_at: now.clone(),
            modified_at: now.clone(),
            content_created_at: new.content_created_at.unwrap_or_else(|| now.clone()),
            content_modified_at: new.content_modified_at.unwrap_or(now),
            sequence_id: 0,
            etag: 0,
            file,
            shared_link: None,
        };
        self.items.insert(id.clone(), item);
        Ok(id)
    }

    /// Rename, move and/or describe an item.
    pub fn update_item(
        &mut self,
        id: &str,
        by: &str,
        name: Option<String>,
        description: Option<String>,
        parent: Option<Container>,
    ) -> Result<(), StoreError> {
        let item = self.items.get(id).ok_or(StoreError::NotFound)?;
        let current = Container::of(item);
        let target = parent.unwrap_or_else(|| current.clone());
        if let Container::Folder(dest) = &target
            && item.kind == ItemKind::Folder
            && self.is_within(dest, id)
        {
            return Err(StoreError::IntoItself);
        }
        let new_name = name.unwrap_or_else(|| item.name.clone());
        if new_name != item.name {
            validate_name(&new_name)?;
        }
        if new_name != item.name || target != current {
            self.check_free(&target, &new_name, Some(id))?;
        }
        let moved = target != current;
        let new_owner = self.container_owner(&target).ok_or(StoreError::NotFound)?;
        let subtree: Vec<String> = if moved {
            self.descendants(id).iter().map(|d| d.id.clone()).collect()
        } else {
            Vec::new()
        };
        let item = self.items.get_mut(id).ok_or(StoreError::NotFound)?;
        item.name = new_name;
        if let Some(d) = description {
            item.description = d;
        }
        if moved {
            item.parent = target.parent_field();
            item.owner = new_owner.clone();
        }
        item.touch(by);
        for d in subtree {
            if let Some(i) = self.items.get_mut(&d) {
                i.owner = new_owner.clone();
            }
        }
        Ok(())
    }

    /// Copy an item (a folder with everything below it) into `dest`.
    pub fn copy_item(
        &mut self,
        id: &str,
        dest: Container,
        name: Option<String>,
        by: &str,
    ) -> Result<String, StoreError> {
        let item = self.items.get(id).ok_or(StoreError::NotFound)?.clone();
        if let Container::Folder(d) = &dest
            && item.kind == ItemKind::Folder
            && self.is_within(d, id)
        {
            return Err(StoreError::IntoItself);
        }
        let name = name.unwrap_or_else(|| item.name.clone());
        validate_name(&name)?;
        self.check_free(&dest, &name, None)?;
        let owner = self.container_owner(&dest).ok_or(StoreError::NotFound)?;
        let new_id = self.copy_one(&item, dest.parent_field(), &name, &owner, by);
        // Copy the subtree, parents before children.
        let mut stack = vec![(item.id.clone(), new_id.clone())];
        while let Some((old_parent, new_parent)) = stack.pop() {
            let children: Vec<Item> = self
                .children(&Container::Folder(old_parent))
                .into_iter()
                .cloned()
                .collect();
            for child in children {
                let child_new =
                    self.copy_one(&child, Some(new_parent.clone()), &child.name, &owner, by);
                if child.kind == ItemKind::Folder {
                    stack.push((child.id.clone(), child_new));
                }
            }
        }
        Ok(new_id)
    }

    fn copy_one(
        &mut self,
        src: &Item,
        parent: Option<String>,
        name: &str,
        owner: &str,
        by: &str,
    ) -> String {
        let id = self.next_id();
        let now = clock::now();
        let file = src.file.as_ref().map(|f| FileData {
            content: f.content.clone(),
            sha1: f.sha1.clone(),
            version_id: self.next_id(),
            version_number: 1,
        });
        let copy = Item {
            id: id.clone(),
            kind: src.kind,
            name: name.to_string(),
            description: src.description.clone(),
            parent,
            owner: owner.to_string(),
            created_by: by.to_string(),
            modified_by: by.to_string(),
            created_at: now.clone(),
            modified_at: now,
            content_created_at: src.content_created_at.clone(),
            content_modified_at: src.content_modified_at.clone(),
            sequence_id: 0,
            etag: 0,
            file,
            shared_link: None,
        };
        self.items.insert(id.clone(), copy);
        id
    }

    /// Delete an item; a non-empty folder only when `recursive`.
    pub fn delete_item(&mut self, id: &str, recursive: bool) -> Result<(), StoreError> {
        let item = self.items.get(id).ok_or(StoreError::NotFound)?;
        let mut doomed: Vec<String> = self.descendants(id).iter().map(|d| d.id.clone()).collect();
        if item.kind == ItemKind::Folder && !doomed.is_empty() && !recursive {
            return Err(StoreError::FolderNotEmpty);
        }
        doomed.push(id.to_string());
        for d in &doomed {
            self.items.remove(d);
        }
        self.collaborations.retain(|_, c| !doomed.contains(&c.item));
        self.metadata.retain(|m| !doomed.contains(&m.item));
        Ok(())
    }

    /// Upload a new version of a file, optionally renaming it.
    pub fn new_version(
        &mut self,
        id: &str,
        content: Bytes,
        name: Option<String>,
        by: &str,
    ) -> Result<(), StoreError> {
        let item = self.items.get(id).ok_or(StoreError::NotFound)?;
        if let Some(n) = &name
            && n != &item.name
        {
            validate_name(n)?;
            self.check_free(&Container::of(item), n, Some(id))?;
        }
        let version_id = self.next_id();
        let item = self.items.get_mut(id).ok_or(StoreError::NotFound)?;
        let number = item.file.as_ref().map_or(0, |f| f.version_number) + 1;
        item.file = Some(FileData {
            sha1: ids::sha1_hex(&content),
            content,
            version_id,
            version_number: number,
        });
        if let Some(n) = name {
            item.name = n;
        }
        item.touch(by);
        item.content_modified_at = item.modified_at.clone();
        Ok(())
    }

    /// Create, change or (with `None`) remove an item's shared link.
    pub fn set_shared_link(
        &mut self,
        id: &str,
        link: Option<SharedLink>,
        by: &str,
    ) -> Result<(), StoreError> {
        let item = self.items.get_mut(id).ok_or(StoreError::NotFound)?;
        item.shared_link = link;
        item.touch(by);
        Ok(())
    }

    /// The item a shared link key belongs to.
    pub fn item_by_shared_link(&self, key: &str) -> Option<&Item> {
        self.items
            .values()
            .find(|i| i.shared_link.as_ref().is_some_and(|l| l.key == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;

    fn store() -> Store {
        Store::from_seed(&Seed::builtin().unwrap()).unwrap()
    }

    fn folder(name: &str, parent: Container) -> NewItem {
        NewItem {
            kind: ItemKind::Folder,
            name: name.into(),
            parent,
            by: "31000001".into(),
            description: String::new(),
            content: None,
            content_created_at: None,
            content_modified_at: None,
        }
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", ".", "..", "a/b", "a\\b", " lead", "trail ", "x\u{7}"] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(validate_name("ok name.txt").is_ok());
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn clashes_are_case_insensitive_and_per_container() {
        let mut s = store();
        let alice_root = Container::Root("31000001".into());
        let err = s
            .create(folder("alice private", alice_root.clone()))
            .unwrap_err();
        assert!(matches!(err, StoreError::NameInUse(_)));
        // Bob may have a folder of the same name in his own root.
        s.create(folder("Alice Private", Container::Root("31000002".into())))
            .unwrap();
    }

    #[test]
    fn folders_cannot_move_into_themselves() {
        let mut s = store();
        let err = s
            .update_item(
                "200000000010",
                "31000001",
                None,
                None,
                Some(Container::Folder("200000000011".into())),
            )
            .unwrap_err();
        assert!(matches!(err, StoreError::IntoItself));
    }

    #[test]
    fn copy_and_delete_work_on_subtrees() {
        let mut s = store();
        let copy = s
            .copy_item(
                "200000000010",
                Container::Root("31000001".into()),
                Some("Team Copy".into()),
                "31000001",
            )
            .unwrap();
        assert_eq!(
            s.descendants(&copy).len(),
            s.descendants("200000000010").len()
        );
        assert!(matches!(
            s.delete_item(&copy, false),
            Err(StoreError::FolderNotEmpty)
        ));
        s.delete_item(&copy, true).unwrap();
        assert!(s.item(&copy).is_none());
        // Collaborations were not copied, and the originals are untouched.
        assert_eq!(s.collaborations.len(), 2);
    }
}
