//! `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9728 §5.1).

/// What every challenge of this server carries: where the metadata is, and which
/// scopes a client should ask for.
#[derive(Debug, Clone)]
pub struct Challenge {
    resource_metadata: String,
    scope: String,
}

impl Challenge {
    pub fn new(resource_metadata: &str, scopes: &[String]) -> Self {
        Self {
            resource_metadata: resource_metadata.to_string(),
            scope: scopes.join(" "),
        }
    }

    /// Renders the header value. With no error:
    /// `Bearer resource_metadata="…", scope="…"`; with one:
    /// `Bearer error="…", error_description="…", scope="…", resource_metadata="…"`.
    /// `scopes` overrides the default scope list (the 403 step-up lists what the
    /// refused operation needs).
    pub fn render(&self, error: Option<(&str, &str)>, scopes: Option<&[String]>) -> String {
        let scope = scopes.map_or_else(|| self.scope.clone(), |s| s.join(" "));
        let scope_param = |out: &mut String| {
            if !scope.is_empty() {
                out.push_str(&format!(", scope=\"{}\"", quoted(&scope)));
            }
        };
        let mut out = String::from("Bearer ");
        match error {
            None => {
                out.push_str(&format!(
                    "resource_metadata=\"{}\"",
                    quoted(&self.resource_metadata)
                ));
                scope_param(&mut out);
            }
            Some((code, description)) => {
                out.push_str(&format!(
                    "error=\"{}\", error_description=\"{}\"",
                    quoted(code),
                    quoted(description)
                ));
                scope_param(&mut out);
                out.push_str(&format!(
                    ", resource_metadata=\"{}\"",
                    quoted(&self.resource_metadata)
                ));
            }
        }
        out
    }
}

/// RFC 6750 §3: error_description is printable ASCII without `"` and `\`.
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_challenge_has_metadata_then_scope() {
        let c = Challenge::new(
            "https://h/.well-known/oauth-protected-resource/mcp",
            &["mcp:tools".into()],
        );
        assert_eq!(
            c.render(None, None),
            r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="mcp:tools""#
        );
    }

    #[test]
    fn error_challenge_is_escaped() {
        let c = Challenge::new("https://h/m", &["a".into()]);
        assert_eq!(
            c.render(
                Some(("invalid_token", "bad \"x\"\n")),
                Some(&["a".into(), "b".into()])
            ),
            r#"Bearer error="invalid_token", error_description="bad x", scope="a b", resource_metadata="https://h/m""#
        );
    }
}
