//! Argument checks that run before any Box call: ids are Box ids, names are legal
//! Box names, sizes are within limits. Each failure is a [`ToolError::Invalid`]
//! naming the argument.

use base64::Engine as _;
use bytes::Bytes;

use super::ToolError;
use crate::box_api::BoxId;

/// A Box file or folder id: decimal digits (folder `0` is the root).
/// Surrounding spaces are forgiven; the rule is [`BoxId`]'s.
pub fn box_id(argument: &'static str, value: &str) -> Result<String, ToolError> {
    match BoxId::parse(value.trim()) {
        Ok(id) => Ok(id.into_string()),
        Err(_) => Err(ToolError::invalid(
            argument,
            "must be a Box id (decimal digits, e.g. \"12345\")",
        )),
    }
}

/// A list of Box ids, non-empty and at most `max`.
pub fn box_ids(
    argument: &'static str,
    values: &[String],
    max: usize,
) -> Result<Vec<String>, ToolError> {
    if values.is_empty() || values.len() > max {
        return Err(ToolError::invalid(
            argument,
            format!("must list 1 to {max} Box ids"),
        ));
    }
    values.iter().map(|v| box_id(argument, v)).collect()
}

/// A legal Box item name: 1–255 characters, no `/` or `\`, not `.` or `..`, no
/// control characters, no leading or trailing spaces.
pub fn item_name(argument: &'static str, value: &str) -> Result<String, ToolError> {
    let problem = if value.is_empty() {
        Some("must not be empty")
    } else if value.chars().count() > 255 {
        Some("must be at most 255 characters")
    } else if value.contains('/') || value.contains('\\') {
        Some("must not contain / or \\")
    } else if value == "." || value == ".." {
        Some("must not be . or ..")
    } else if value.chars().any(char::is_control) {
        Some("must not contain control characters")
    } else if value.trim() != value {
        Some("must not start or end with spaces")
    } else {
        None
    };
    match problem {
        Some(p) => Err(ToolError::invalid(argument, p)),
        None => Ok(value.to_string()),
    }
}

/// A non-empty text of at most `max` characters.
pub fn text(argument: &'static str, value: &str, max: usize) -> Result<String, ToolError> {
    if value.trim().is_empty() {
        return Err(ToolError::invalid(argument, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ToolError::invalid(
            argument,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

/// A number within `min..=max`, or `default` when absent.
pub fn bounded(
    argument: &'static str,
    value: Option<u64>,
    min: u64,
    max: u64,
    default: u64,
) -> Result<u64, ToolError> {
    match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(_) => Err(ToolError::invalid(
            argument,
            format!("must be between {min} and {max}"),
        )),
    }
}

/// One of a fixed set of words.
pub fn one_of(argument: &'static str, value: &str, allowed: &[&str]) -> Result<String, ToolError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(ToolError::invalid(
            argument,
            format!("must be one of: {}", allowed.join(", ")),
        ))
    }
}

/// File content given as text or as base64, at most `max_bytes` once decoded.
pub fn content(
    text: Option<&str>,
    base64: Option<&str>,
    max_bytes: u64,
) -> Result<Bytes, ToolError> {
    let bytes = match (text, base64) {
        (Some(t), None) => Bytes::from(t.as_bytes().to_vec()),
        (None, Some(b)) => base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map(Bytes::from)
            .map_err(|_| ToolError::invalid("content_base64", "is not valid base64"))?,
        _ => {
            return Err(ToolError::invalid(
                "content_text",
                "give exactly one of content_text and content_base64",
            ));
        }
    };
    if bytes.len() as u64 > max_bytes {
        return Err(ToolError::invalid(
            "content",
            format!("is larger than the {max_bytes}-byte upload limit"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_digits() {
        assert_eq!(box_id("file_id", " 123 ").unwrap(), "123");
        assert_eq!(box_id("folder_id", "0").unwrap(), "0");
        for bad in ["", "12a", "-1", "1/2", "../x", "123456789012345678901"] {
            assert!(box_id("file_id", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_follow_box_rules() {
        assert!(item_name("name", "Report 2026.md").is_ok());
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a\\b",
            " lead",
            "trail ",
            "tab\tname",
            &"x".repeat(256),
        ] {
            assert!(item_name("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_is_text_or_base64_within_the_limit() {
        assert_eq!(&content(Some("hi"), None, 10).unwrap()[..], b"hi");
        assert_eq!(&content(None, Some("aGk="), 10).unwrap()[..], b"hi");
        assert!(content(None, Some("not base64!"), 10).is_err());
        assert!(content(Some("x"), Some("eA=="), 10).is_err());
        assert!(content(None, None, 10).is_err());
        assert!(content(Some("toolong"), None, 3).is_err());
    }

    #[test]
    fn numbers_are_bounded() {
        assert_eq!(bounded("limit", None, 1, 100, 20).unwrap(), 20);
        assert!(bounded("limit", Some(0), 1, 100, 20).is_err());
        assert!(bounded("limit", Some(101), 1, 100, 20).is_err());
    }
}
