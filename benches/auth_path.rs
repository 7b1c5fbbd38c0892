//! What authenticating a request costs, piece by piece: verifying the bearer
//! token (warm: the verified-token cache; cold: a full RS256 signature check),
//! a Box credential from the broker's cache, and rendering the protected
//! resource metadata and `WWW-Authenticate` challenges.
//!
//! The issuer (discovery and JWKS) and Box (`box-sandbox`) run in this process
//! on loopback; they are only contacted during setup.
//!
//! `cargo bench --bench auth_path` measures; `cargo bench --bench auth_path --
//! --test` runs each case once (CI); `-- --quick` gives rough numbers in seconds.

#[allow(dead_code)] // the thumbprint is for the tests
#[path = "../tests/it/common/dpop.rs"]
mod dpop;
#[allow(dead_code)]
#[path = "../tests/it/common/issuer.rs"]
mod issuer;
#[path = "../tests/it/common/key_store.rs"]
mod key_store;

use issuer::now;

use std::{
    future::Future,
    hint::black_box,
    time::{Duration, Instant},
};

use box_mcp::{
    auth::{ClaimsConfig, Principal, TokenVerifier},
    authz::Action,
    broker::{BoxAuth, BoxConfig, BoxMode, Broker, ToolAccess},
    http::{PublicUrls, challenge::Challenge, metadata::ProtectedResourceMetadata},
    mcp::tools::catalog,
};
use box_sandbox::{Sandbox, SandboxConfig, fixture};
use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use tokio::runtime::Runtime;
use url::Url;

use issuer::{Mode, TestIssuer, TestKey};

/// The server's public base URL; the token audience is its `/mcp` resource.
const BASE_URL: &str = "https://mcp.example.com";

/// A current-thread runtime: the issuer and the sandbox run on it during setup
/// and stay idle while a benchmark runs.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Runs `routine` `iters` times inside one `block_on` and times the loop, as
/// criterion's `to_async` does (without its `async_tokio` feature): one
/// `block_on` per sample instead of one per iteration.
fn iter_async<F, Fut, T>(b: &mut Bencher<'_>, rt: &Runtime, mut routine: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    b.iter_custom(|iters| {
        rt.block_on(async {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(routine().await);
            }
            start.elapsed()
        })
    });
}

fn urls() -> PublicUrls {
    PublicUrls::from_base(&Url::parse(BASE_URL).unwrap())
}

/// A verifier built the way `server.rs` builds it, trusting a local issuer with
/// one RSA-2048 key, with the keys loaded; and a valid RS256 token (1 h).
struct VerifySetup {
    verifier: TokenVerifier,
    token: String,
    /// The same claims under the published `kid`, signed by another key.
    forged: String,
    _issuer: TestIssuer,
    refresher: tokio::task::JoinHandle<()>,
}

fn verify_setup(rt: &Runtime) -> VerifySetup {
    rt.block_on(async {
        let key = TestKey::generate("key-1");
        let issuer = TestIssuer::start(&[&key], Mode::Up).await;
        let audience = urls().resource;
        let (keys, refresher) = key_store::loaded(
            &issuer.url,
            &audience,
            vec![
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
                Algorithm::ES256,
                Algorithm::ES384,
            ],
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
        .await;
        let verifier = TokenVerifier::new(
            keys,
            ClaimsConfig::default().resolve(),
            issuer.url.clone(),
            vec![Algorithm::RS256],
            Duration::from_secs(30),
            100_000,
            Duration::from_secs(300),
        );
        let mut claims = issuer.claims(&audience, "alice");
        claims["exp"] = (issuer::now() + 3600).into();
        let token = key.sign(&claims);
        let principal = verifier.verify(&token).await.expect("a valid token");
        assert_eq!(principal.subject, "alice");
        let forged = TestKey::generate("key-1").sign(&claims);
        assert!(verifier.verify(&forged).await.is_err(), "a forged token");
        VerifySetup {
            verifier,
            token,
            forged,
            _issuer: issuer,
            refresher,
        }
    })
}

fn verify(c: &mut Criterion) {
    let rt = runtime();
    let s = verify_setup(&rt);
    let mut group = c.benchmark_group("verify");
    // The same token every time: SHA-256, a cache lookup, the expiry and `kid`
    // re-checks.
    group.bench_function("warm", |b| {
        iter_async(b, &rt, || s.verifier.verify(black_box(&s.token)))
    });
    // Header, key lookup, RS256 signature, claims, the principal.
    group.bench_function("cold_rs256", |b| {
        iter_async(b, &rt, || {
            s.verifier.verify_without_cache(black_box(&s.token))
        })
    });
    // A forged token (published `kid`, another key's signature), first sight: the
    // signature check that fails.
    group.bench_function("forged_first_sight", |b| {
        iter_async(b, &rt, || {
            s.verifier.verify_without_cache(black_box(&s.forged))
        })
    });
    // The same forged token again: refused from the refusal cache.
    group.bench_function("forged_repeat", |b| {
        iter_async(b, &rt, || s.verifier.verify(black_box(&s.forged)))
    });
    group.finish();
    s.refresher.abort();
}

/// Introspection (RFC 7662) against the local issuer's endpoint: the cost of a
/// cached answer (what every request after the first pays), and of judging an
/// answer (the checks, without the round trip to the IdP).
fn introspection(c: &mut Criterion) {
    use box_mcp::auth::{IdpClient, IntrospectionConfig, IntrospectionContext, Introspector};
    use std::sync::Arc;
    let rt = runtime();
    let s = verify_setup(&rt);
    let (verifier, answer, introspector, _issuer) = rt.block_on(async {
        let key = TestKey::generate("key-1");
        let issuer = TestIssuer::start(&[&key], Mode::Up).await;
        let audience = urls().resource;
        let (keys, refresher) = key_store::loaded(
            &issuer.url,
            &audience,
            vec![Algorithm::RS256],
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
        .await;
        refresher.abort();
        let (id, secret) = issuer::INTROSPECTION_CLIENT;
        let config = IntrospectionConfig {
            enabled: true,
            client_id: Some(id.into()),
            client_secret: Some(secret.to_string().into()),
            ..IntrospectionConfig::default()
        };
        let introspector = Arc::new(
            Introspector::new(
                &config,
                IntrospectionContext {
                    idp: IdpClient::new(&issuer.url, Duration::from_secs(5)).unwrap(),
                    issuer: issuer.url.clone(),
                    audiences: vec![audience.clone()],
                    claims: ClaimsConfig::default().resolve(),
                    leeway: Duration::from_secs(30),
                    allow_insecure_http: false,
                },
            )
            .expect("introspection on"),
        );
        let verifier = TokenVerifier::new(
            keys,
            ClaimsConfig::default().resolve(),
            issuer.url.clone(),
            vec![Algorithm::RS256],
            Duration::from_secs(30),
            100_000,
            Duration::from_secs(300),
        )
        .with_introspection(Arc::clone(&introspector), false);
        let mut answer = issuer.claims(&audience, "alice");
        answer["active"] = true.into();
        answer["exp"] = (issuer::now() + 3600).into();
        issuer.set_introspection("opaque-alice", answer.clone());
        let principal = verifier.verify("opaque-alice").await.expect("active");
        assert_eq!(principal.subject, "alice");
        (verifier, answer, introspector, issuer)
    });
    let answer = answer.as_object().unwrap().clone();
    let mut group = c.benchmark_group("introspection");
    // SHA-256 and a cache lookup, as `verify/warm`.
    group.bench_function("cache_hit", |b| {
        iter_async(b, &rt, || verifier.verify(black_box("opaque-alice")))
    });
    // `active`, `iss`, `exp`, `iat`, `aud`, `cnf` and the principal.
    group.bench_function("judge_answer", |b| {
        b.iter(|| introspector.judge(black_box(&answer)))
    });
    group.finish();
    s.refresher.abort();
}

/// A DPoP proof (RFC 9449) checked in full: header, the ES256 signature with the
/// proof's own key, `htm`/`htu`/`iat`/`ath`, the thumbprint and the replay cache.
/// A fresh proof each time (made outside the measurement): a repeat is a replay.
fn dpop_proof(c: &mut Criterion) {
    use box_mcp::auth::{DpopConfig, DpopMode, DpopVerifier};
    let resource = Url::parse(&urls().resource).unwrap();
    let verifier = DpopVerifier::new(
        &DpopConfig {
            mode: DpopMode::Accepted,
            ..DpopConfig::default()
        },
        resource.clone(),
    )
    .expect("DPoP on");
    let key = dpop::DpopKey::generate();
    let token = "an-access-token";
    let mut group = c.benchmark_group("dpop");
    group.bench_function("proof_check_es256", |b| {
        b.iter_batched(
            || key.proof("POST", resource.as_str(), Some(token)),
            |proof| {
                verifier
                    .check(black_box(&proof), "POST", token, now())
                    .expect("a valid proof")
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// `[box]` as `tests/it/common/box_env.rs` configures it: per-user tokens through
/// the Client Credentials Grant, against `sandbox`.
fn box_config(sandbox: &Sandbox) -> BoxConfig {
    BoxConfig {
        mode: BoxMode::PerUser,
        auth: BoxAuth::Ccg,
        api_base_url: sandbox.api_base_url(),
        upload_base_url: sandbox.upload_base_url(),
        token_url: sandbox.token_url(),
        revoke_url: sandbox.revoke_url(),
        enterprise_id: Some(fixture::ENTERPRISE_ID.into()),
        client_id: Some(fixture::CCG_CLIENT_ID.into()),
        client_secret: Some(fixture::CCG_CLIENT_SECRET.into()),
        ..BoxConfig::default()
    }
}

fn alice() -> Principal {
    Principal {
        issuer: "https://idp.example.com/realms/box-mcp".into(),
        subject: "alice".into(),
        username: Some("alice".into()),
        email: Some("alice@example.com".into()),
        email_verified: true,
        client_id: Some("mcp-client".into()),
        roles: vec!["mcp-viewer".into()],
        groups: vec![],
        scopes: vec!["openid".into(), "mcp:tools".into()],
        box_user_id: Some(fixture::ALICE.into()),
        valid_until: u64::MAX,
        bound_key: None,
    }
}

fn broker(c: &mut Criterion) {
    let rt = runtime();
    let sandbox = rt
        .block_on(Sandbox::start(SandboxConfig::default()))
        .expect("start box-sandbox");
    let broker = Broker::new(&box_config(&sandbox)).expect("broker");
    let caller = alice();
    // What `box_folder_list` asks for, on Alice's private folder.
    let list = catalog::find("box_folder_list").expect("box_folder_list");
    let access = ToolAccess::new(list.scopes).folder(fixture::ALICE_PRIVATE_FOLDER);
    // The first call fetches the parent token and exchanges it.
    rt.block_on(broker.credential(&caller, None, &access))
        .expect("a first credential");

    let mut group = c.benchmark_group("broker");
    group.bench_function("credential_cache_hit", |b| {
        iter_async(b, &rt, || {
            broker.credential(black_box(&caller), None, black_box(&access))
        })
    });
    group.finish();
    rt.block_on(sandbox.shutdown());
}

fn http(c: &mut Criterion) {
    let urls = urls();
    let issuer = "https://idp.example.com/realms/box-mcp";
    let scopes_supported: Vec<String> = vec!["mcp:tools".into(), "box:write".into()];
    let challenge = Challenge::new(&urls.resource_metadata, &["mcp:tools".into()]);
    let step_up: Vec<String> = catalog::oauth_scopes(Action::Write)
        .iter()
        .map(|s| s.to_string())
        .collect();

    let mut group = c.benchmark_group("http");
    group.bench_function("metadata_render", |b| {
        b.iter(|| {
            let metadata = ProtectedResourceMetadata::new(
                black_box(&urls),
                black_box(issuer),
                black_box(&scopes_supported),
                black_box("Box MCP"),
            );
            serde_json::to_vec(&metadata).unwrap()
        })
    });
    group.bench_function("challenge_render_401", |b| {
        b.iter(|| black_box(&challenge).render(None, None))
    });
    group.bench_function("challenge_render_403", |b| {
        b.iter(|| {
            black_box(&challenge).render(
                Some((
                    "insufficient_scope",
                    "the token lacks a scope this request needs",
                )),
                Some(black_box(&step_up)),
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    targets = verify, introspection, dpop_proof, broker, http
}
criterion_main!(benches);
