//! [`BoxId`]: the one rule for what a Box id is, for every id box-mcp reads
//! (tool arguments, the mapping file, token claims, Box's own answers) and
//! puts into a URL or a downscoping `resource`.

use std::fmt;

/// Longest id accepted: Box ids are 64-bit integers written as decimal
/// strings, and `u64::MAX` has 20 digits.
const MAX_DIGITS: usize = 20;

/// A Box id (file, folder, user, enterprise): 1 to 20 ASCII decimal digits.
/// Folder `0` is the root. Only [`BoxId::parse`] makes one, so a value of this
/// type is always safe to put in a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoxId(String);

/// The text is not a Box id; the message says what one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a Box id (1 to 20 decimal digits, e.g. \"12345\")")]
pub struct InvalidBoxId(pub String);

impl BoxId {
    /// Accepts exactly the id, without trimming: callers that allow
    /// surrounding spaces (tool arguments) trim first.
    pub fn parse(text: &str) -> Result<Self, InvalidBoxId> {
        if Self::is_valid(text) {
            Ok(Self(text.to_string()))
        } else {
            Err(InvalidBoxId(text.chars().take(64).collect()))
        }
    }

    /// Whether `text` is a Box id, for checks that keep the text as it is.
    pub fn is_valid(text: &str) -> bool {
        (1..=MAX_DIGITS).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for BoxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BoxId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<BoxId> for String {
    fn from(id: BoxId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_to_twenty_digits() {
        for good in ["0", "12345", "18446744073709551615", "00000000000000000001"] {
            assert_eq!(BoxId::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            " 1",
            "1 ",
            "12a",
            "-1",
            "+1",
            "1/2",
            "../x",
            "１２",
            "123456789012345678901",
        ] {
            assert!(BoxId::parse(bad).is_err(), "{bad:?}");
            assert!(!BoxId::is_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_error_quotes_a_bounded_part_of_the_input() {
        let long = "x".repeat(10_000);
        let message = BoxId::parse(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "{}", message.len());
        assert!(message.contains("decimal digits"), "{message}");
    }
}
