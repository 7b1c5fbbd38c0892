//! What a remote server says when it refuses: the error bodies of OAuth token
//! endpoints and of Box, read into a code and a description that are safe to put
//! in an error (secrets the request carried are redacted, control characters
//! dropped, the length bounded). The broker's Box clients and the linked accounts'
//! IdP client read every refusal through here.

/// Longest piece of remote text kept in an error.
pub const MAX_REMOTE_TEXT: usize = 300;

/// Makes remote text safe to put in an error: secrets the request carried
/// are replaced, control characters dropped, and the length bounded.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        if text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REMOTE_TEXT)
        .collect();
    if text.chars().count() > MAX_REMOTE_TEXT {
        out.push('…');
    }
    out.trim().to_string()
}

/// The error shapes we meet: `OAuth2Error {error, error_description}` from token
/// endpoints (Box's, Keycloak's, Auth0's), Box's `ClientError {code, message}`, and
/// Keycloak's broker endpoint's `{errorMessage}`. Returns `(code, description)`,
/// each scrubbed; `fallback` for a missing code, "no description" for a missing
/// description. Nothing of a body that is none of these is kept.
pub fn parse_error_body(body: &[u8], secrets: &[&str], fallback: &str) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Raw {
        error: Option<String>,
        error_description: Option<String>,
        code: Option<String>,
        message: Option<String>,
        #[serde(rename = "errorMessage")]
        error_message: Option<String>,
    }
    let raw: Option<Raw> = serde_json::from_slice(body).ok();
    let (code, description) = match raw {
        Some(r) => (
            r.error.or(r.code),
            r.error_description.or(r.message).or(r.error_message),
        ),
        None => (None, None),
    };
    (
        scrub(code.as_deref().unwrap_or(fallback), secrets),
        scrub(description.as_deref().unwrap_or("no description"), secrets),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth2_errors_are_read_and_scrubbed() {
        let body = br#"{"error":"invalid_grant","error_description":"The subject token tok-SECRET-123 is expired"}"#;
        let (code, description) = parse_error_body(body, &["tok-SECRET-123"], "http_400");
        assert_eq!(code, "invalid_grant");
        assert_eq!(description, "The subject token [redacted] is expired");
    }

    #[test]
    fn client_errors_are_read() {
        let body = br#"{"type":"error","status":403,"code":"access_denied_insufficient_permissions","message":"Access denied","request_id":"r1"}"#;
        let (code, description) = parse_error_body(body, &[], "http_403");
        assert_eq!(code, "access_denied_insufficient_permissions");
        assert_eq!(description, "Access denied");
    }

    #[test]
    fn unparseable_bodies_get_the_fallback_and_no_body_text() {
        let (code, description) = parse_error_body(b"<html>secret-ish</html>", &[], "http_400");
        assert_eq!(code, "http_400");
        assert_eq!(description, "no description");
    }

    #[test]
    fn remote_text_is_bounded_and_has_no_control_characters() {
        let long = "x\n".repeat(1000);
        let s = scrub(&long, &[]);
        assert!(s.chars().count() <= MAX_REMOTE_TEXT + 1);
        assert!(!s.contains('\n'));
    }

    #[test]
    fn keycloak_broker_messages_are_read() {
        let (code, description) =
            parse_error_body(br#"{"errorMessage":"User not linked"}"#, &[], "");
        assert_eq!(
            (code.as_str(), description.as_str()),
            ("", "User not linked")
        );
    }
}
