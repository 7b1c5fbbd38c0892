//! Metadata instances on items, checked against their templates, and JSON-patch
//! updates.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{MetadataInstance, Store, Template};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error("Specified Metadata Template not found")]
    TemplateNotFound,
    #[error("Instance not found")]
    InstanceNotFound,
    #[error("A resource with this value already exists")]
    AlreadyExists,
    #[error("{0}")]
    Invalid(String),
    #[error("A test operation failed: {0}")]
    TestFailed(String),
}

/// One JSON-patch operation (RFC 6902) on a metadata instance.
#[derive(Debug, Clone, Deserialize)]
pub struct PatchOp {
    pub op: String,
    pub path: String,
    #[serde(default)]
    pub value: Option<Value>,
    #[serde(default)]
    pub from: Option<String>,
}

const GLOBAL: &str = "global";
const PROPERTIES: &str = "properties";

impl Store {
    /// `enterprise` and `enterprise_<id>` name this enterprise's scope; `global` the
    /// global one.
    pub fn canonical_scope(&self, scope: &str) -> Option<String> {
        let ours = self.enterprise_scope();
        if scope == "enterprise" || scope == ours {
            Some(ours)
        } else if scope == GLOBAL {
            Some(GLOBAL.to_string())
        } else {
            None
        }
    }

    /// A template by canonical scope and key.
    pub fn template(&self, scope: &str, key: &str) -> Option<&Template> {
        if scope != self.enterprise_scope() {
            return None;
        }
        self.templates.iter().find(|t| t.key == key)
    }

    fn template_exists(&self, scope: &str, key: &str) -> bool {
        (scope == GLOBAL && key == PROPERTIES) || self.template(scope, key).is_some()
    }

    pub fn metadata_on(&self, item: &str) -> Vec<&MetadataInstance> {
        self.metadata.iter().filter(|m| m.item == item).collect()
    }

    pub fn metadata_instance(
        &self,
        item: &str,
        scope: &str,
        key: &str,
    ) -> Result<&MetadataInstance, MetadataError> {
        if !self.template_exists(scope, key) {
            return Err(MetadataError::TemplateNotFound);
        }
        self.metadata
            .iter()
            .find(|m| m.item == item && m.scope == scope && m.template == key)
            .ok_or(MetadataError::InstanceNotFound)
    }

    /// Apply a template to an item.
    pub fn create_metadata(
        &mut self,
        item: &str,
        scope: &str,
        key: &str,
        values: Map<String, Value>,
    ) -> Result<&MetadataInstance, MetadataError> {
        if !self.template_exists(scope, key) {
            return Err(MetadataError::TemplateNotFound);
        }
        if self.metadata_instance(item, scope, key).is_ok() {
            return Err(MetadataError::AlreadyExists);
        }
        let values: Map<String, Value> = values
            .into_iter()
            .filter(|(k, _)| !k.starts_with('$'))
            .collect();
        self.validate(scope, key, &values)?;
        self.metadata.push(MetadataInstance {
            id: uuid::Uuid::new_v4().to_string(),
            item: item.to_string(),
            scope: scope.to_string(),
            template: key.to_string(),
            values,
            version: 0,
        });
        self.metadata.last().ok_or(MetadataError::InstanceNotFound)
    }

    /// Apply JSON-patch operations, all or nothing.
    pub fn patch_metadata(
        &mut self,
        item: &str,
        scope: &str,
        key: &str,
        ops: &[PatchOp],
    ) -> Result<&MetadataInstance, MetadataError> {
        let current = self.metadata_instance(item, scope, key)?;
        let mut values = current.values.clone();
        for op in ops {
            apply(&mut values, op)?;
        }
        self.validate(scope, key, &values)?;
        let instance = self
            .metadata
            .iter_mut()
            .find(|m| m.item == item && m.scope == scope && m.template == key)
            .ok_or(MetadataError::InstanceNotFound)?;
        instance.values = values;
        instance.version += 1;
        Ok(instance)
    }

    pub fn delete_metadata(
        &mut self,
        item: &str,
        scope: &str,
        key: &str,
    ) -> Result<(), MetadataError> {
        self.metadata_instance(item, scope, key)?;
        self.metadata
            .retain(|m| !(m.item == item && m.scope == scope && m.template == key));
        Ok(())
    }

    /// Values must match the template's fields and types.
    fn validate(
        &self,
        scope: &str,
        key: &str,
        values: &Map<String, Value>,
    ) -> Result<(), MetadataError> {
        if scope == GLOBAL {
            return match values.values().all(|v| !v.is_object() && !v.is_array()) {
                true => Ok(()),
                false => Err(MetadataError::Invalid(
                    "global properties take scalar values".into(),
                )),
            };
        }
        let template = self
            .template(scope, key)
            .ok_or(MetadataError::TemplateNotFound)?;
        for (k, v) in values {
            let field = template
                .fields
                .iter()
                .find(|f| &f.key == k)
                .ok_or_else(|| MetadataError::Invalid(format!("'{k}' is not a field of {key}")))?;
            let options: Vec<&str> = field.options.iter().map(|(_, o)| o.as_str()).collect();
            let ok = match field.kind.as_str() {
                "string" => v.is_string(),
                "float" => v.is_number(),
                "integer" => v.is_i64() || v.is_u64(),
                "date" => v
                    .as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
                "enum" => v.as_str().is_some_and(|s| options.contains(&s)),
                "multiSelect" => v.as_array().is_some_and(|a| {
                    a.iter()
                        .all(|x| x.as_str().is_some_and(|s| options.contains(&s)))
                }),
                _ => true,
            };
            if !ok {
                return Err(MetadataError::Invalid(format!(
                    "'{k}' must be a valid {} value",
                    field.kind
                )));
            }
        }
        Ok(())
    }
}

/// The key a JSON pointer such as `/status` names (one level only).
fn pointer_key(path: &str) -> Result<String, MetadataError> {
    let rest = path
        .strip_prefix('/')
        .filter(|r| !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| MetadataError::Invalid(format!("unsupported path '{path}'")))?;
    Ok(rest.replace("~1", "/").replace("~0", "~"))
}

fn apply(values: &mut Map<String, Value>, op: &PatchOp) -> Result<(), MetadataError> {
    let key = pointer_key(&op.path)?;
    let value = || {
        op.value
            .clone()
            .ok_or_else(|| MetadataError::Invalid(format!("'{}' needs a value", op.op)))
    };
    let from = || -> Result<String, MetadataError> {
        pointer_key(
            op.from
                .as_deref()
                .ok_or_else(|| MetadataError::Invalid(format!("'{}' needs from", op.op)))?,
        )
    };
    let missing = |k: &str| MetadataError::Invalid(format!("the path '/{k}' does not exist"));
    match op.op.as_str() {
        "add" => {
            values.insert(key, value()?);
        }
        "replace" => {
            let slot = values.get_mut(&key).ok_or_else(|| missing(&key))?;
            *slot = value()?;
        }
        "remove" => {
            values.remove(&key).ok_or_else(|| missing(&key))?;
        }
        "test" => {
            let expected = value()?;
            if values.get(&key) != Some(&expected) {
                return Err(MetadataError::TestFailed(format!("/{key}")));
            }
        }
        "move" => {
            let from = from()?;
            let v = values.remove(&from).ok_or_else(|| missing(&from))?;
            values.insert(key, v);
        }
        "copy" => {
            let from = from()?;
            let v = values.get(&from).cloned().ok_or_else(|| missing(&from))?;
            values.insert(key, v);
        }
        other => {
            return Err(MetadataError::Invalid(format!(
                "unknown operation '{other}'"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use serde_json::json;

    const SCOPE: &str = "enterprise_1100000";
    const FILE: &str = "400000000103";

    fn store() -> Store {
        Store::from_seed(&Seed::builtin().unwrap()).unwrap()
    }

    fn ops(v: Value) -> Vec<PatchOp> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn instances_follow_their_template() {
        let mut s = store();
        let bad = json!({"status": "unknown"}).as_object().cloned().unwrap();
        assert!(matches!(
            s.create_metadata(FILE, SCOPE, "projectInfo", bad),
            Err(MetadataError::Invalid(_))
        ));
        let good =
            json!({"projectName": "Budget", "budget": 1.5, "dueDate": "2026-06-15T00:00:00.000Z"})
                .as_object()
                .cloned()
                .unwrap();
        s.create_metadata(FILE, SCOPE, "projectInfo", good.clone())
            .unwrap();
        assert_eq!(
            s.create_metadata(FILE, SCOPE, "projectInfo", good)
                .unwrap_err(),
            MetadataError::AlreadyExists
        );
        assert_eq!(
            s.create_metadata(FILE, SCOPE, "nope", Map::new())
                .unwrap_err(),
            MetadataError::TemplateNotFound
        );
    }

    #[test]
    fn patches_are_all_or_nothing() {
        let mut s = store();
        let file = "400000001001";
        let failing = ops(json!([
            {"op": "replace", "path": "/status", "value": "completed"},
            {"op": "test", "path": "/owner", "value": "Somebody Else"}
        ]));
        assert!(matches!(
            s.patch_metadata(file, SCOPE, "projectInfo", &failing),
            Err(MetadataError::TestFailed(_))
        ));
        assert_eq!(
            s.metadata_instance(file, SCOPE, "projectInfo")
                .unwrap()
                .values["status"],
            "active"
        );
        let good = ops(json!([
            {"op": "test", "path": "/owner", "value": "Alice Admin"},
            {"op": "replace", "path": "/status", "value": "completed"},
            {"op": "remove", "path": "/budget"}
        ]));
        let inst = s.patch_metadata(file, SCOPE, "projectInfo", &good).unwrap();
        assert_eq!(inst.values["status"], "completed");
        assert!(!inst.values.contains_key("budget"));
        assert_eq!(inst.version, 1);
        let invalid = ops(json!([{"op": "replace", "path": "/status", "value": "bogus"}]));
        assert!(
            s.patch_metadata(file, SCOPE, "projectInfo", &invalid)
                .is_err()
        );
    }
}
