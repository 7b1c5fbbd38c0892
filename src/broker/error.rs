//! What can go wrong while getting a Box credential.
//!
//! Every message is built from fixed text, configuration keys, ids and what Box
//! said in its error fields (scrubbed of any secret the request carried); never
//! from a token, a client secret or an assertion.

use crate::linked::LinkError;

/// Why the broker could not hand out a Box credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// `box.mode = "disabled"`: the server was started without Box access.
    #[error(
        "Box access is not configured on this server (box.mode = \"disabled\"); an administrator must set box.mode and the Box app credentials"
    )]
    Disabled,

    /// The caller has no Box user in per-user mode. No Box call was made for
    /// the claim and file mappings; the email mapping made one lookup.
    #[error("the caller {subject:?} is not mapped to a Box user: {reason}")]
    NotMapped { subject: String, reason: String },

    /// Box's token endpoint refused a grant with a 4xx other than 429
    /// (`invalid_grant`, `invalid_client`, `unauthorized_client`, …). Not retried.
    #[error("Box's token endpoint refused the {grant} (HTTP {status} {error}: {description})")]
    TokenEndpoint {
        /// Which request: "client-credentials grant", "JWT assertion grant", "downscoping exchange".
        grant: &'static str,
        status: u16,
        /// Box's `error` code, e.g. `invalid_grant`.
        error: String,
        /// Box's `error_description`, shortened and scrubbed of secrets.
        description: String,
    },

    /// A Box API call the broker itself makes (user lookup by email, the
    /// service account's own user) was refused with a 4xx other than 429.
    #[error("Box refused the {call} (HTTP {status} {code}: {message})")]
    BoxApi {
        call: &'static str,
        status: u16,
        code: String,
        message: String,
    },

    /// Box could not be reached, or kept answering 429/5xx, within the
    /// configured attempts and time (`box.token_max_attempts`,
    /// `box.token_retry_max_elapsed`).
    #[error("Box is unavailable: {reason}")]
    Unavailable { reason: String },

    /// Box answered 2xx with something that is not what its API describes.
    #[error("Box returned an invalid answer to the {call}: {reason}")]
    InvalidResponse { call: &'static str, reason: String },

    /// A configuration problem; `key` names the setting (`box.jwt_config_file`, …).
    #[error("invalid value for `{key}`: {message}")]
    Config { key: String, message: String },

    /// The tool asked for something the broker will not request: no scopes, a
    /// scope that is not a scope token, an item id that is not a Box id.
    #[error("invalid Box access request: {reason}")]
    InvalidRequest { reason: String },

    /// `per_user_token = "linked"`: the caller's linked Box account could not be had.
    #[error(transparent)]
    Linked(#[from] LinkError),
}

impl BrokerError {
    pub(crate) fn config(key: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Config {
            key: key.into(),
            message: message.to_string(),
        }
    }

    pub(crate) fn not_mapped(subject: &str, reason: impl Into<String>) -> Self {
        Self::NotMapped {
            subject: subject.to_string(),
            reason: reason.into(),
        }
    }

    /// A short machine-readable code for logs, audit events and tool results.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Disabled => "box_not_configured",
            Self::NotMapped { .. } => "box_user_not_mapped",
            Self::TokenEndpoint { .. } => "box_token_refused",
            Self::BoxApi { .. } => "box_request_refused",
            Self::Unavailable { .. } => "box_unavailable",
            Self::InvalidResponse { .. } => "box_invalid_response",
            Self::Config { .. } => "box_configuration_error",
            Self::InvalidRequest { .. } => "box_invalid_request",
            Self::Linked(LinkError::NotLinked { .. }) => "box_account_not_linked",
            Self::Linked(LinkError::Broken { .. }) => "box_link_broken",
            Self::Linked(LinkError::Unavailable(_)) => "idp_unavailable",
            Self::Linked(_) => "box_link_unavailable",
        }
    }

    /// Whether trying again later may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { .. } | Self::InvalidResponse { .. } => true,
            Self::Linked(e) => e.is_transient(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_name_box_code_and_description() {
        let e = BrokerError::TokenEndpoint {
            grant: "downscoping exchange",
            status: 400,
            error: "invalid_scope".into(),
            description: "The requested scope is not allowed".into(),
        };
        let text = e.to_string();
        assert!(text.contains("invalid_scope"), "{text}");
        assert!(
            text.contains("The requested scope is not allowed"),
            "{text}"
        );
        assert!(text.contains("downscoping exchange"), "{text}");
        assert_eq!(e.code(), "box_token_refused");
        assert!(!e.is_transient());
    }
}
