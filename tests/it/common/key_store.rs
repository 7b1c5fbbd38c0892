//! A `KeyStore` for a test issuer, with its keys loaded: what the verifier tests
//! and the auth-path benchmark start from. (Also `#[path]`-included by
//! benches/auth_path.rs.)

use std::{sync::Arc, time::Duration};

use box_mcp::auth::{IdpClient, KeyStore, RefreshPolicy, ValidationPolicy};
use jsonwebtoken::Algorithm;

/// The key store, its background refresher, once the issuer's keys are in.
/// On-demand refreshes may follow each other after `min_refresh`.
pub async fn loaded(
    issuer: &str,
    audience: &str,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    min_refresh: Duration,
) -> (Arc<KeyStore>, tokio::task::JoinHandle<()>) {
    let idp = IdpClient::new(issuer, Duration::from_secs(5)).expect("IdP client");
    let keys = KeyStore::new(
        idp,
        ValidationPolicy {
            issuer: issuer.to_string(),
            audiences: vec![audience.to_string()],
            algorithms,
            leeway,
        },
        RefreshPolicy {
            min_interval: min_refresh,
            default_interval: Duration::from_secs(300),
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_secs(1),
        },
    );
    let refresher = keys.spawn_refresher();
    for _ in 0..4000 {
        if keys.is_ready() {
            return (keys, refresher);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the keys of {issuer} did not load within 20 s");
}
