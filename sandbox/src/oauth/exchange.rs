//! Token exchange (downscoping): a valid subject token that holds every requested
//! scope becomes a token with exactly those scopes, optionally restricted to one
//! file or folder, expiring no later than its parent, without a refresh token.

use std::time::Instant;

use super::{ACCESS_TOKEN_TYPE, Form, Issued, OAuthError};
use crate::{
    scopes,
    state::AppState,
    store::{ItemKind, Store},
    tokens::{self, Restriction, TokenKind, TokenRecord},
};

/// `(kind, id)` from a resource URL ending in `/files/{id}` or `/folders/{id}`.
pub fn parse_resource(resource: &str) -> Option<(ItemKind, String)> {
    let url = url::Url::parse(resource).ok()?;
    let mut segments: Vec<&str> = url.path_segments()?.collect();
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let [.., kind, id] = segments.as_slice() else {
        return None;
    };
    let kind = match *kind {
        "files" => ItemKind::File,
        "folders" => ItemKind::Folder,
        _ => return None,
    };
    let numeric = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && *id != "0";
    numeric.then(|| (kind, id.to_string()))
}

/// The item a shared link URL (`…/s/{key}`) points at.
fn shared_link_target(store: &Store, link: &str) -> Option<(ItemKind, String)> {
    let url = url::Url::parse(link).ok()?;
    let key = url.path_segments()?.next_back()?;
    let item = store.item_by_shared_link(key)?;
    Some((item.kind, item.id.clone()))
}

/// The restriction of the new token.
fn restriction(
    state: &AppState,
    form: &Form,
    subject: &TokenRecord,
) -> Result<Option<Restriction>, OAuthError> {
    let store = state.store();
    let target = match (form.get("resource"), form.get("box_shared_link")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "resource and box_shared_link cannot be combined",
            ));
        }
        (Some(resource), None) => Some(parse_resource(resource).ok_or_else(|| {
            OAuthError::invalid_request("resource must be the URL of a file or folder")
        })?),
        (None, Some(link)) => Some(
            shared_link_target(&store, link)
                .ok_or_else(|| OAuthError::invalid_request("Unknown shared link"))?,
        ),
        (None, None) => None,
    };
    let Some((kind, id)) = target else {
        return Ok(subject.restricted_to.clone());
    };
    let reachable = store.item_of(kind, &id).is_some()
        && store.access(&subject.user, &id).is_some()
        && subject
            .restricted_to
            .as_ref()
            .is_none_or(|r| store.is_within(&id, &r.id));
    if !reachable {
        return Err(OAuthError::invalid_request(
            "The resource is not accessible with the subject token",
        ));
    }
    Ok(Some(Restriction::new(kind, id)))
}

pub fn grant(state: &AppState, form: &Form) -> Result<Issued, OAuthError> {
    let raw = form.require("subject_token")?;
    if form.require("subject_token_type")? != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if form.get("actor_token").is_some() {
        return Err(OAuthError::invalid_request(
            "actor_token is not supported by box-sandbox",
        ));
    }
    let requested = scopes::parse_list(form.require("scope")?);
    if let Some(unknown) = requested.iter().find(|s| !scopes::is_known(s)) {
        return Err(OAuthError::invalid_scope(format!(
            "The requested scope '{unknown}' is unknown"
        )));
    }
    let subject = state
        .tokens()
        .validate(raw)
        .map_err(|_| OAuthError::invalid_grant("The subject token is invalid or expired"))?;
    let missing: Vec<&str> = requested
        .iter()
        .map(String::as_str)
        .filter(|s| !scopes::holds(&subject.scopes, s))
        .collect();
    if !missing.is_empty() {
        return Err(OAuthError::invalid_scope(format!(
            "The subject token does not hold: {}",
            missing.join(" ")
        )));
    }
    let restricted_to = restriction(state, form, &subject)?;
    let ttl = subject.expires_at.saturating_duration_since(Instant::now());
    let (raw, record) = state.tokens().issue(tokens::Grant {
        kind: TokenKind::Downscoped,
        client_id: subject.client_id.clone(),
        subject_type: subject.subject_type,
        user: subject.user.clone(),
        scopes: requested,
        restricted_to,
        ttl,
        parent: Some(subject.fingerprint.clone()),
        as_user_allowed: subject.as_user_allowed,
    });
    Ok(Issued {
        raw,
        record,
        refresh_token: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_matched_on_their_path_suffix() {
        assert_eq!(
            parse_resource("https://api.box.com/2.0/files/123"),
            Some((ItemKind::File, "123".into()))
        );
        assert_eq!(
            parse_resource("http://127.0.0.1:9/2.0/folders/45/"),
            Some((ItemKind::Folder, "45".into()))
        );
        assert_eq!(parse_resource("https://api.box.com/2.0/folders/0"), None);
        assert_eq!(parse_resource("https://api.box.com/2.0/users/1"), None);
        assert_eq!(parse_resource("/2.0/files/1"), None);
        assert_eq!(parse_resource("https://api.box.com/2.0/files/abc"), None);
    }
}
