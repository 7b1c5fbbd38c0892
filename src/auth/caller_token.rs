//! The caller's own access token, kept past authentication for one purpose: the
//! IdP token exchange that fetches the caller's linked Box account
//! (`box.per_user_token = "linked"`). Only then does the authentication layer keep
//! it; it goes to the IdP only, never to Box, a log line or a tool result.

use secrecy::SecretString;

/// `Debug` shows no token.
#[derive(Clone)]
pub struct CallerToken(SecretString);

impl CallerToken {
    pub fn new(token: &str) -> Self {
        Self(SecretString::from(token.to_string()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl std::fmt::Debug for CallerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_token() {
        let t = CallerToken::new("eyJ.secret.sig");
        assert_eq!(format!("{t:?}"), "CallerToken([redacted])");
    }
}
