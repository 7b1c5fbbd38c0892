//! What the scenarios need besides the server: the sandbox (in this process,
//! seeded with the benchmark users), the local issuer, and the tokens.

use std::path::{Path, PathBuf};

use anyhow::Context;
use box_sandbox::{Sandbox, SandboxConfig, Seed, SeedSource, fixture, seed::SeedUser};
use serde_json::{Value, json};

use crate::{
    issuer::{Mode, TestIssuer, TestKey, now},
    linked_idp::LinkedIdp,
};

/// The audience of every token: the server's canonical URL, fixed by
/// `public_base_url` so one set of tokens serves every server restart. A loopback
/// host: plain http is refused anywhere else.
pub const PUBLIC_BASE_URL: &str = "http://127.0.0.1";

/// Box user ids of the benchmark users: `32000000`, `32000001`, …
const FIRST_USER_ID: u64 = 32_000_000;

/// Tokens stay valid longer than any run of the benchmark.
const TOKEN_LIFETIME_SECS: u64 = 4 * 3600;

pub struct Fixture {
    pub sandbox: Sandbox,
    /// The IdP side of linked accounts (scenario 7).
    pub linked: LinkedIdp,
    pub issuer: TestIssuer,
    /// One token for alice (`mcp-admin`, so she sees every tool like the baseline).
    pub alice_token: PathBuf,
    /// One token each for the first `users` benchmark users (`mcp-viewer`), one per line.
    pub user_tokens: PathBuf,
    /// One token each for the first `cold_users` benchmark users.
    pub cold_user_tokens: PathBuf,
}

impl Fixture {
    pub async fn start(dir: &Path, users: usize, cold_users: usize) -> anyhow::Result<Self> {
        let user_count = users.max(cold_users);
        let seed_path = dir.join("seed.json");
        std::fs::write(
            &seed_path,
            serde_json::to_vec(&seed_with_users(user_count)?)?,
        )?;
        let sandbox = Sandbox::start(SandboxConfig {
            seed: SeedSource::Path(seed_path),
            ..SandboxConfig::default()
        })
        .await
        .context("cannot start box-sandbox")?;

        let key = TestKey::generate("loadbench-key");
        let issuer = TestIssuer::start(&[&key], Mode::Up).await;

        let alice_token = dir.join("alice.token");
        let alice = token(&key, &issuer, "alice", fixture::ALICE, "mcp-admin");
        std::fs::write(&alice_token, format!("{alice}\n"))?;

        let started = std::time::Instant::now();
        let lines = mint_user_tokens(&key, &issuer, user_count);
        let user_tokens = dir.join("users.tokens");
        std::fs::write(&user_tokens, lines[..users].join("\n") + "\n")?;
        let cold_user_tokens = dir.join("cold-users.tokens");
        std::fs::write(&cold_user_tokens, lines[..cold_users].join("\n") + "\n")?;
        eprintln!(
            "minted {user_count} user tokens in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let linked = LinkedIdp::start(&sandbox).await?;
        Ok(Self {
            linked,
            sandbox,
            issuer,
            alice_token,
            user_tokens,
            cold_user_tokens,
        })
    }
}

/// The builtin seed plus `count` users of the same enterprise.
fn seed_with_users(count: usize) -> anyhow::Result<Seed> {
    let mut seed = Seed::builtin().context("builtin seed")?;
    let template = seed.users[0].clone();
    for i in 0..count as u64 {
        seed.users.push(SeedUser {
            id: (FIRST_USER_ID + i).to_string(),
            name: format!("Load User {i}"),
            login: format!("load-user-{i}@example.com"),
            job_title: "Benchmark".into(),
            ..template.clone()
        });
    }
    Ok(seed)
}

fn claims(issuer: &TestIssuer, sub: &str, box_user_id: &str, role: &str) -> Value {
    let mut claims = issuer.claims(&format!("{PUBLIC_BASE_URL}/mcp"), sub);
    claims["exp"] = json!(now() + TOKEN_LIFETIME_SECS);
    claims["box_user_id"] = json!(box_user_id);
    claims["realm_access"] = json!({ "roles": [role] });
    claims
}

fn token(key: &TestKey, issuer: &TestIssuer, sub: &str, box_user_id: &str, role: &str) -> String {
    key.sign(&claims(issuer, sub, box_user_id, role))
}

/// RS256 signing costs about a millisecond: use both cores.
fn mint_user_tokens(key: &TestKey, issuer: &TestIssuer, count: usize) -> Vec<String> {
    let mint = |range: std::ops::Range<usize>| -> Vec<String> {
        range
            .map(|i| {
                let box_user = (FIRST_USER_ID + i as u64).to_string();
                token(
                    key,
                    issuer,
                    &format!("load-user-{i}"),
                    &box_user,
                    "mcp-viewer",
                )
            })
            .collect()
    };
    let half = count / 2;
    std::thread::scope(|s| {
        let first = s.spawn(|| mint(0..half));
        let mut second = mint(half..count);
        let mut all = first.join().expect("token minting thread");
        all.append(&mut second);
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_holds_the_benchmark_users_after_the_fixture_users() {
        let seed = seed_with_users(3).unwrap();
        let ids: Vec<&str> = seed.users.iter().map(|u| u.id.as_str()).collect();
        assert!(ids.contains(&fixture::ALICE));
        assert!(ids.ends_with(&["32000000", "32000001", "32000002"]));
    }
}
