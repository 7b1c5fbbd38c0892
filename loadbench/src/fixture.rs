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
    /// Alice's token with a signature that is not the issuer's.
    pub forged_token: PathBuf,
    /// `FORGED_PER_COLD_USER × cold_users` forged tokens, each with a different
    /// signature.
    pub forged_tokens: PathBuf,
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
        let forged_token = dir.join("forged.token");
        std::fs::write(&forged_token, format!("{}\n", forge(&alice, 0)))?;
        let forged_tokens = dir.join("forged.tokens");
        // Rejections are cheaper than cold verifications: scenario 8n gets through
        // more tokens than scenario 5, and forging costs no signature.
        let forged_count = FORGED_PER_COLD_USER * cold_users as u64;
        let forged: Vec<String> = (1..=forged_count).map(|i| forge(&alice, i)).collect();
        std::fs::write(&forged_tokens, forged.join("\n") + "\n")?;
        let linked = LinkedIdp::start(&sandbox).await?;
        Ok(Self {
            linked,
            sandbox,
            issuer,
            alice_token,
            user_tokens,
            cold_user_tokens,
            forged_token,
            forged_tokens,
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

/// `token` with its signature replaced by bytes of the same length that no key
/// signed, different for each `n`: the header (and so the `kid`) and the claims
/// stay, so the server finds the key and must check the signature to refuse it.
fn forge(token: &str, n: u64) -> String {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let (signed, signature) = token.rsplit_once('.').expect("a JWS has three parts");
    let length = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("the issuer's signature is base64url")
        .len();
    // xorshift64*, seeded by `n`: cheap, deterministic, never all zeros.
    let mut state = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let bytes: Vec<u8> = (0..length)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

const FORGED_PER_COLD_USER: u64 = 8;

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
    fn forged_tokens_keep_header_and_claims_and_differ_in_their_signatures() {
        let token = "aGVhZGVy.cGF5bG9hZA.c2lnbmF0dXJlIG9mIGZvcnR5IGJ5dGVz";
        let (a, b) = (forge(token, 1), forge(token, 2));
        assert_ne!(a, b);
        for forged in [&a, &b] {
            let (signed, signature) = forged.rsplit_once('.').unwrap();
            assert_eq!(signed, "aGVhZGVy.cGF5bG9hZA");
            assert_eq!(signature.len(), "c2lnbmF0dXJlIG9mIGZvcnR5IGJ5dGVz".len());
            assert!(!token.ends_with(signature));
        }
    }

    #[test]
    fn the_seed_holds_the_benchmark_users_after_the_fixture_users() {
        let seed = seed_with_users(3).unwrap();
        let ids: Vec<&str> = seed.users.iter().map(|u| u.id.as_str()).collect();
        assert!(ids.contains(&fixture::ALICE));
        assert!(ids.ends_with(&["32000000", "32000001", "32000002"]));
    }
}
