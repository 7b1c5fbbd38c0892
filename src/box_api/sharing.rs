//! Shared links and collaborations.

use reqwest::Method;
use serde_json::{Value, json};

use super::{
    BoxClient, BoxError, CredentialSource, ItemKind,
    client::Request,
    models::{Collaboration, Collaborations, Item},
};

impl BoxClient {
    /// `PUT /{files|folders}/{id}?fields=shared_link` with `{shared_link: {access}}`;
    /// `access = None` removes the link (`shared_link: null`).
    pub async fn set_shared_link(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
        access: Option<&str>,
    ) -> Result<Item, BoxError> {
        let link = match access {
            Some(access) => json!({ "access": access }),
            None => Value::Null,
        };
        let request = Request::new(Method::PUT, self.api(&[kind.collection(), id]))
            .query("fields", "type,id,name,shared_link")
            .json(json!({ "shared_link": link }));
        self.call(creds, request).await
    }

    /// `GET /{files|folders}/{id}/collaborations`.
    pub async fn list_collaborations(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
    ) -> Result<Collaborations, BoxError> {
        let request = Request::new(
            Method::GET,
            self.api(&[kind.collection(), id, "collaborations"]),
        );
        self.call(creds, request).await
    }

    /// `POST /collaborations`: invite a user, by Box user id or by login (email).
    pub async fn add_collaboration(
        &self,
        creds: &impl CredentialSource,
        kind: ItemKind,
        id: &str,
        user: CollaboratorRef<'_>,
        role: &str,
    ) -> Result<Collaboration, BoxError> {
        let accessible_by = match user {
            CollaboratorRef::Id(user_id) => json!({ "type": "user", "id": user_id }),
            CollaboratorRef::Login(login) => json!({ "type": "user", "login": login }),
        };
        let request = Request::new(Method::POST, self.api(&["collaborations"])).json(json!({
            "item": { "type": kind.type_name(), "id": id },
            "accessible_by": accessible_by,
            "role": role,
        }));
        self.call(creds, request).await
    }

    /// `DELETE /collaborations/{id}`.
    pub async fn remove_collaboration(
        &self,
        creds: &impl CredentialSource,
        id: &str,
    ) -> Result<(), BoxError> {
        let request = Request::new(Method::DELETE, self.api(&["collaborations", id]));
        self.execute(creds, request, 64 * 1024).await.map(|_| ())
    }
}

/// Who a collaboration is for.
#[derive(Debug, Clone, Copy)]
pub enum CollaboratorRef<'a> {
    Id(&'a str),
    Login(&'a str),
}
