use reqwest::Method;

use super::{
    BoxClient, BoxError, CredentialSource,
    client::Request,
    models::{User, Users},
};

impl BoxClient {
    /// `GET /users/me`: the user the credential acts as.
    pub async fn current_user(&self, creds: &impl CredentialSource) -> Result<User, BoxError> {
        self.call(creds, Request::new(Method::GET, self.api(&["users", "me"])))
            .await
    }

    /// `GET /users?filter_term=`: enterprise users whose name or login starts with `term`.
    pub async fn find_users(
        &self,
        creds: &impl CredentialSource,
        term: &str,
    ) -> Result<Users, BoxError> {
        let request = Request::new(Method::GET, self.api(&["users"]))
            .query("filter_term", term)
            .query("limit", 100);
        self.call(creds, request).await
    }
}
