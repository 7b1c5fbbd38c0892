//! Who is calling: the bearer token (401 without a valid one), `As-User`, and the
//! checks every endpoint makes on behalf of the caller — scope (403
//! `insufficient_scope`), the token's resource restriction, and what the acting user
//! may see (404 otherwise, as Box answers).

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, header, request::Parts},
};

use crate::{
    error::ApiError,
    scopes::Operation,
    state::AppState,
    store::{Access, Container, Item, ItemKind, Perms, Store},
    tokens::{SubjectType, TokenRecord},
};

/// Header naming the user a service-account token acts as.
pub const AS_USER: &str = "as-user";

/// The bearer token of a request, from the `Authorization` header only.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub token: TokenRecord,
    /// The acting user: the `As-User` user, or the token's subject.
    pub user: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let raw = bearer(&parts.headers).ok_or_else(ApiError::missing_token)?;
        let token = state
            .tokens()
            .validate(raw)
            .map_err(|_| ApiError::invalid_token())?;
        let as_user = match parts.headers.get(AS_USER) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .map(|s| s.trim().to_string())
                    .map_err(|_| ApiError::bad_request("As-User must be a user id"))?,
            ),
        };
        let user = match &as_user {
            None => token.user.clone(),
            Some(id) => {
                if !(token.as_user_allowed && token.subject_type == SubjectType::Enterprise) {
                    return Err(ApiError::access_denied().with_message(
                        "As-User is only allowed for the service account of an app allowed to act as users",
                    ));
                }
                let store = state.store();
                match store.user(id).filter(|u| u.is_managed()) {
                    Some(u) => u.id.clone(),
                    None => {
                        return Err(ApiError::access_denied()
                            .with_message("As-User names a user outside this enterprise"));
                    }
                }
            }
        };
        Ok(Caller { token, user })
    }
}

/// What the caller reached: an item, or the acting user's root folder.
pub enum Target<'s> {
    Root,
    Item(&'s Item),
}

impl Caller {
    /// The token must hold the operation's scopes.
    pub fn require(&self, op: Operation) -> Result<(), ApiError> {
        let missing = op.missing(&self.token.scopes);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(op.required_scopes()))
        }
    }

    /// Whether the token's restriction (if any) covers item `id`.
    pub fn within_restriction(&self, store: &Store, id: &str) -> bool {
        match &self.token.restricted_to {
            None => true,
            Some(r) => store.is_within(id, &r.id),
        }
    }

    /// An item of `kind` the caller may reach: it exists, the acting user can see it,
    /// and the token's restriction covers it. Anything else is 404.
    pub fn item<'s>(
        &self,
        store: &'s Store,
        kind: ItemKind,
        id: &str,
    ) -> Result<(&'s Item, Access), ApiError> {
        let item = store.item_of(kind, id).ok_or_else(ApiError::not_found)?;
        let access = store
            .access(&self.user, id)
            .ok_or_else(ApiError::not_found)?;
        if !self.within_restriction(store, id) {
            return Err(ApiError::not_found());
        }
        Ok((item, access))
    }

    /// A folder by id, where `0` is the acting user's root (not reachable with a
    /// restricted token).
    pub fn folder<'s>(
        &self,
        store: &'s Store,
        id: &str,
    ) -> Result<(Target<'s>, Container, Perms), ApiError> {
        if id == "0" {
            if self.token.restricted_to.is_some() {
                return Err(ApiError::not_found());
            }
            return Ok((
                Target::Root,
                Container::Root(self.user.clone()),
                Access::Owner.perms(),
            ));
        }
        let (item, access) = self.item(store, ItemKind::Folder, id)?;
        Ok((
            Target::Item(item),
            Container::Folder(item.id.clone()),
            access.perms(),
        ))
    }

    /// Whether the acting user may administer users (the service account, or an admin).
    pub fn is_admin(&self, store: &Store) -> bool {
        store
            .user(&self.user)
            .is_some_and(|u| u.is_managed() && (u.service_account || u.role == "admin"))
    }
}

/// 403 unless `allowed`.
pub fn permit(allowed: bool) -> Result<(), ApiError> {
    if allowed {
        Ok(())
    } else {
        Err(ApiError::access_denied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_comes_from_the_authorization_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  xyz "),
        );
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer(&h), None);
    }
}
