//! What tool-policy decisions cost: one decision warm (cached) and cold (the
//! Casbin enforcer scanning the policy), and filtering a `tools/list` (deciding
//! each of N tools for one caller), for 30 and 300 tools and policies of 10 and
//! 10,000 lines, generated into temporary files.
//!
//! `cargo bench --bench authz` measures; `cargo bench --bench authz -- --test`
//! runs each case once (CI); `-- --quick` gives rough numbers in seconds.

use std::{fmt::Write as _, hint::black_box, sync::Arc, time::Duration};

use box_mcp::{
    auth::Principal,
    authz::{Action, Authorizer, PolicyTool, ToolList, principal_subjects},
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const TOOL_COUNTS: [usize; 2] = [30, 300];
const POLICY_LINES: [usize; 2] = [10, 10_000];

fn tools(n: usize) -> Vec<(String, Action)> {
    (0..n)
        .map(|i| {
            let effect = [Action::Read, Action::Write, Action::Delete][i % 3];
            (format!("tool_{i:03}"), effect)
        })
        .collect()
}

/// A policy of `lines` lines: the three role lines and two role links of the
/// shipped policy, then per-user exceptions (denies) for users other than the
/// caller, so that every decision scans the whole policy.
fn policy(lines: usize, tools: usize) -> String {
    let mut text = String::from(
        "p, role:mcp-viewer, *, read, allow\n\
         p, role:mcp-editor, *, write, allow\n\
         p, role:mcp-admin, *, *, allow\n\
         g, role:mcp-admin, role:mcp-editor\n\
         g, role:mcp-editor, role:mcp-viewer\n",
    );
    for i in 0..lines.saturating_sub(5) {
        writeln!(text, "p, user:user{i}, tool_{:03}, *, deny", i % tools).unwrap();
    }
    text
}

struct Setup {
    authorizer: Arc<Authorizer>,
    tools: Vec<(String, Action)>,
    _dir: tempfile::TempDir,
}

fn setup(tool_count: usize, lines: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.conf");
    let policy_path = dir.path().join("policy.csv");
    std::fs::write(&model, include_str!("../policies/model.conf")).unwrap();
    std::fs::write(&policy_path, policy(lines, tool_count)).unwrap();
    let tools = tools(tool_count);
    let known = ToolList::new(
        tools
            .iter()
            .map(|(name, action)| PolicyTool::new(name.clone(), *action)),
    );
    let authorizer = Authorizer::load(&model, &policy_path, 100_000, known).unwrap();
    Setup {
        authorizer,
        tools,
        _dir: dir,
    }
}

/// An editor as Keycloak describes one: realm roles (two the policy does not
/// name), a group, a username the policy names (user1 has an exception line when
/// the policy is long) and a subject id.
fn caller() -> Principal {
    Principal {
        issuer: "https://idp.example.com/realms/box-mcp".into(),
        subject: "b0b0b0b0-0000-4000-8000-000000000002".into(),
        username: Some("user1".into()),
        email: Some("user1@example.com".into()),
        email_verified: true,
        client_id: Some("mcp-client".into()),
        roles: vec![
            "default-roles-box-mcp".into(),
            "offline_access".into(),
            "mcp-editor".into(),
            "mcp-viewer".into(),
        ],
        groups: vec!["mcp-editors".into()],
        scopes: vec!["openid".into(), "mcp:tools".into()],
        box_user_id: None,
        valid_until: u64::MAX,
        bound_key: None,
    }
}

fn decisions(c: &mut Criterion) {
    let caller = caller();
    let mut group = c.benchmark_group("decide");
    group.measurement_time(Duration::from_secs(3));
    for lines in POLICY_LINES {
        let s = setup(30, lines);
        let (tool, effect) = &s.tools[4];
        group.bench_function(BenchmarkId::new("warm", lines), |b| {
            b.iter(|| black_box(s.authorizer.decide(&caller, black_box(tool), *effect)))
        });
        group.bench_function(BenchmarkId::new("cold", lines), |b| {
            b.iter(|| {
                black_box(s.authorizer.decide_uncached(
                    principal_subjects(&caller),
                    black_box(tool),
                    *effect,
                ))
            })
        });
    }
    group.finish();
}

fn filtering(c: &mut Criterion) {
    let caller = caller();
    let mut group = c.benchmark_group("tools_list");
    group.measurement_time(Duration::from_secs(3));
    for lines in POLICY_LINES {
        for tool_count in TOOL_COUNTS {
            let s = setup(tool_count, lines);
            let id = format!("{tool_count}_tools/{lines}_lines");
            group.bench_function(BenchmarkId::new("warm", &id), |b| {
                b.iter(|| {
                    let view = s.authorizer.for_principal(&caller);
                    s.tools
                        .iter()
                        .filter(|(name, effect)| view.allows(name, *effect))
                        .count()
                })
            });
            // Cold over 10,000 lines takes seconds per listing: few samples.
            if lines > 1000 {
                group.sample_size(10);
            }
            group.bench_function(BenchmarkId::new("cold", &id), |b| {
                b.iter(|| {
                    s.tools
                        .iter()
                        .filter(|(name, effect)| {
                            s.authorizer
                                .decide_uncached(principal_subjects(&caller), name, *effect)
                                .allowed
                        })
                        .count()
                })
            });
            group.sample_size(100);
        }
    }
    group.finish();
}

criterion_group!(benches, decisions, filtering);
criterion_main!(benches);
