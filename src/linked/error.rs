//! What can go wrong while fetching a caller's linked Box account from the IdP.
//!
//! Messages are built from fixed text, configuration keys and the IdP's error
//! fields, read through [`crate::remote_error`] (secrets redacted, bounded); never
//! from a token or a client secret.

/// Why no Box token could be had from the caller's linked account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The caller has not linked a Box account at the IdP, or the link was removed.
    #[error(
        "your Box account is not linked to your sign-in yet: open {link_url} to link it, then try again"
    )]
    NotLinked { link_url: String, detail: String },

    /// The link exists but its Box token can no longer be renewed (the grant was
    /// revoked at Box, or the refresh failed): the user links again.
    #[error(
        "the link to your Box account no longer works ({detail}): open {link_url} to link it again, then try again"
    )]
    Broken { link_url: String, detail: String },

    /// The IdP could not be reached, or kept failing, within the configured bounds.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),

    /// The IdP refused box-mcp itself (client credentials, permissions): an
    /// administrator must fix the IdP or `[box.linked]`.
    #[error("the identity provider refused box-mcp's request for the linked Box account ({0})")]
    Refused(String),

    /// The IdP answered with something that is not a token.
    #[error("the identity provider sent an invalid answer: {0}")]
    InvalidResponse(String),

    /// No caller token to exchange (stdio has none).
    #[error(
        "linked Box accounts need a signed-in caller (the HTTP transport); this call has no caller token"
    )]
    NoCallerToken,
}

impl LinkError {
    /// Trying again later may work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// Where the user links their Box account, when linking is the remedy.
    pub fn link_url(&self) -> Option<&str> {
        match self {
            Self::NotLinked { link_url, .. } | Self::Broken { link_url, .. } => Some(link_url),
            _ => None,
        }
    }
}
