//! Shared links, set with `PUT /files/{id}` or `PUT /folders/{id}` and a
//! `shared_link` object (`null` removes the link).

use serde_json::{Map, Value};

use crate::{
    error::ApiError,
    ids,
    store::{ItemKind, SharedLink},
};

const ACCESS_LEVELS: &[&str] = &["open", "company", "collaborators"];

fn flag(m: &Map<String, Value>, key: &str, default: bool) -> Result<bool, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(format!(
            "shared_link.permissions.{key} must be a boolean"
        ))),
    }
}

/// The link a `shared_link` request value asks for, given the current one.
pub fn parse(
    value: &Value,
    kind: ItemKind,
    current: Option<&SharedLink>,
) -> Result<Option<SharedLink>, ApiError> {
    let m = match value {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => {
            return Err(ApiError::bad_request(
                "shared_link must be an object or null",
            ));
        }
    };
    let access = match m.get("access") {
        None | Some(Value::Null) => current.map_or("open".to_string(), |l| l.access.clone()),
        Some(Value::String(s)) if ACCESS_LEVELS.contains(&s.as_str()) => s.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "shared_link.access must be open, company or collaborators",
            ));
        }
    };
    let empty = Map::new();
    let perms = match m.get("permissions") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(ApiError::bad_request(
                "shared_link.permissions must be an object",
            ));
        }
    };
    let can_download = flag(
        perms,
        "can_download",
        current.is_none_or(|l| l.can_download),
    )?;
    let can_preview = flag(perms, "can_preview", true)?;
    let can_edit = flag(perms, "can_edit", current.is_some_and(|l| l.can_edit))?;
    if can_edit && (kind == ItemKind::Folder || access == "collaborators") {
        return Err(ApiError::bad_request(
            "can_edit is only allowed on files with open or company access",
        ));
    }
    let password = match m.get("password") {
        None => current.is_some_and(|l| l.password),
        Some(Value::Null) => false,
        Some(Value::String(p)) if p.len() >= 8 => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "shared_link.password must have at least 8 characters",
            ));
        }
    };
    let unshared_at = match m.get("unshared_at") {
        None => current.and_then(|l| l.unshared_at.clone()),
        Some(Value::Null) => None,
        Some(Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
            Some(s.clone())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "shared_link.unshared_at must be a date-time",
            ));
        }
    };
    let vanity_name = match m.get("vanity_name") {
        None => current.and_then(|l| l.vanity_name.clone()),
        Some(Value::Null) => None,
        Some(Value::String(s))
            if s.len() >= 12 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Some(s.clone())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "shared_link.vanity_name must have at least 12 letters, digits or dashes",
            ));
        }
    };
    Ok(Some(SharedLink {
        key: current.map_or_else(|| ids::random_alnum(32).to_lowercase(), |l| l.key.clone()),
        access,
        can_download,
        can_preview,
        can_edit,
        password,
        unshared_at,
        vanity_name,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_are_parsed_and_checked() {
        let link = parse(&json!({"access": "company"}), ItemKind::File, None)
            .unwrap()
            .unwrap();
        assert_eq!(link.access, "company");
        assert!(link.can_download && !link.can_edit);
        let same = parse(&json!({}), ItemKind::File, Some(&link))
            .unwrap()
            .unwrap();
        assert_eq!(same.key, link.key);
        assert!(
            parse(&Value::Null, ItemKind::File, Some(&link))
                .unwrap()
                .is_none()
        );
        assert!(parse(&json!({"access": "public"}), ItemKind::File, None).is_err());
        assert!(
            parse(
                &json!({"permissions": {"can_edit": true}}),
                ItemKind::Folder,
                None
            )
            .is_err()
        );
        assert!(parse(&json!("open"), ItemKind::File, None).is_err());
    }
}
