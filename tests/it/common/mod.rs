//! Shared test harness: a local OIDC issuer and the real server process.

pub mod auth0_issuer;
pub mod box_env;
pub mod browser;
pub mod dpop;
pub mod issuer;
pub mod key_store;
pub mod proxy;
pub mod scratch;
pub mod server;

pub use issuer::{Mode, TestIssuer, TestKey, now};
pub use scratch::Scratch;
pub use server::{Reply, ServerProcess};

/// One issuer with one key, and a server trusting it.
pub struct Fixture {
    pub key: TestKey,
    pub issuer: TestIssuer,
    pub server: ServerProcess,
}

impl Fixture {
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let key = TestKey::generate("key-1");
        let issuer = TestIssuer::start(&[&key], Mode::Up).await;
        let server = ServerProcess::start(&issuer.url, env).await;
        server.wait_ready(std::time::Duration::from_secs(10)).await;
        Self {
            key,
            issuer,
            server,
        }
    }

    /// A valid token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        self.key
            .sign(&self.issuer.claims(&self.server.resource, sub))
    }

    /// A token for `sub` after `edit` changed its claims.
    pub fn token_with(&self, sub: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut claims = self.issuer.claims(&self.server.resource, sub);
        edit(&mut claims);
        self.key.sign(&claims)
    }
}
