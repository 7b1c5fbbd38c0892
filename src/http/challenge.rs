//! `WWW-Authenticate` challenges (RFC 6750 §3, RFC 9728 §5.1).

/// What every challenge of this server carries: where the metadata is, and which
/// scopes a client should ask for.
#[derive(Debug, Clone)]
pub struct Challenge {
    resource_metadata: String,
    scope: String,
    /// With DPoP on: the `algs` of the `DPoP` challenge (RFC 9449 §7.1).
    dpop_algs: Option<String>,
    /// Whether the `Bearer` challenge is offered (not when DPoP is required).
    bearer: bool,
}

/// Which scheme's challenge carries an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Dpop,
}

impl Challenge {
    pub fn new(resource_metadata: &str, scopes: &[String]) -> Self {
        Self {
            resource_metadata: resource_metadata.to_string(),
            scope: scopes.join(" "),
            dpop_algs: None,
            bearer: true,
        }
    }

    /// Adds the `DPoP` challenge; with `required`, it is the only one.
    pub fn with_dpop(mut self, algorithms: &[&str], required: bool) -> Self {
        self.dpop_algs = Some(algorithms.join(" "));
        self.bearer = !required;
        self
    }

    /// Every challenge for a refusal: `Bearer` (unless DPoP is required) and
    /// `DPoP` (when it is on), the error on the scheme `error_on` names (on the
    /// only challenge there is, if that one is not offered).
    pub fn render_all(
        &self,
        error: Option<(&str, &str)>,
        scopes: Option<&[String]>,
        error_on: Scheme,
    ) -> Vec<String> {
        let mut out = Vec::with_capacity(2);
        let Some(algs) = &self.dpop_algs else {
            out.push(self.render(error, scopes));
            return out;
        };
        let dpop_has_error = error_on == Scheme::Dpop || !self.bearer;
        if self.bearer {
            out.push(self.render(error.filter(|_| !dpop_has_error), scopes));
        }
        let mut dpop = format!("DPoP algs=\"{}\"", quoted(algs));
        if let Some((code, description)) = error.filter(|_| dpop_has_error) {
            dpop.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                quoted(code),
                quoted(description)
            ));
        }
        dpop.push_str(&format!(
            ", resource_metadata=\"{}\"",
            quoted(&self.resource_metadata)
        ));
        out.push(dpop);
        out
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
    fn dpop_adds_its_challenge_and_takes_its_errors() {
        let c = Challenge::new("https://h/m", &["mcp:tools".into()])
            .with_dpop(&["ES256", "PS256"], false);
        let plain = c.render_all(None, None, Scheme::Bearer);
        assert_eq!(
            plain,
            [
                r#"Bearer resource_metadata="https://h/m", scope="mcp:tools""#,
                r#"DPoP algs="ES256 PS256", resource_metadata="https://h/m""#
            ]
        );
        let bad_proof = c.render_all(Some(("invalid_dpop_proof", "stale")), None, Scheme::Dpop);
        assert!(!bad_proof[0].contains("error="), "{bad_proof:?}");
        assert!(
            bad_proof[1].contains(r#"error="invalid_dpop_proof""#),
            "{bad_proof:?}"
        );
        let required = Challenge::new("https://h/m", &[]).with_dpop(&["ES256"], true);
        let only = required.render_all(Some(("invalid_token", "x")), None, Scheme::Bearer);
        assert_eq!(only.len(), 1);
        assert!(
            only[0].starts_with(r#"DPoP algs="ES256", error="invalid_token""#),
            "{only:?}"
        );
    }

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
