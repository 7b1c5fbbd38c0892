//! `box-mcp-loadbench`: the load benchmark of box-mcp (`scripts/bench.sh` runs it).
//!
//! Starts box-sandbox (in this process, seeded with the benchmark users) and a
//! local OIDC issuer, then for every scenario and concurrency a fresh `box-mcp`
//! process (so caches start empty and the peak RSS is that run's), drives it
//! with `wrk`, and writes `BENCHMARKS.md`. Everything listens on 127.0.0.1 and
//! stops by itself.

#[path = "../../tests/it/common/issuer.rs"]
#[allow(dead_code)] // the test issuer's failure modes are not used here
mod issuer;

mod direct;
mod fixture;
mod linked_idp;
mod micro;
mod report;
mod scenarios;
mod server;
mod soak;
mod wrk;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::Parser;

use fixture::{Fixture, PUBLIC_BASE_URL};
use report::LoadResult;
use scenarios::{Call, Callers, Edge, SCENARIOS, Scenario, Server};
use server::ServerProcess;
use wrk::Tokens;

#[derive(Parser)]
#[command(about = "Load benchmark of box-mcp on loopback (see BENCHMARKS.md)")]
struct Cli {
    /// The box-mcp binary, built with `--features insecure-no-auth` (the
    /// baseline scenarios turn authentication off).
    #[arg(long)]
    server: PathBuf,
    /// The repository root: the server runs there (policies/).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// Where the report goes.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Criterion's output directory, for the micro-benchmark figures.
    #[arg(long, default_value = "target/criterion")]
    criterion: PathBuf,
    /// Hand-written analysis appended to the report.
    #[arg(long, default_value = "loadbench/NOTES.md")]
    notes: PathBuf,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// Seconds measured per scenario and concurrency.
    #[arg(long, default_value_t = 8)]
    duration: u64,
    /// Seconds of the same load before measuring, for the warm scenarios.
    #[arg(long, default_value_t = 2)]
    warm_up: u64,
    /// Connection counts.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64,256")]
    connections: Vec<u32>,
    /// Distinct benchmark users cycled through in scenario 6.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// Users (and tokens) for scenario 5, each sent once per run: more than the
    /// fastest cold run can use up.
    #[arg(long, default_value_t = 40_000)]
    cold_users: usize,
    /// Extra server settings for an experiment (`KEY=VALUE`, e.g.
    /// `BOX_MCP_LOG__LEVEL=warn`), applied to every run and listed in the report.
    #[arg(long = "server-env", value_parser = parse_key_value)]
    server_env: Vec<(String, String)>,
    /// Rounds of the paired runs, alternately at 64 connections: full auth (2, 3)
    /// against authentication off (1, 3b), and rate limits and metrics (2e, 3e)
    /// against them off (2, 3). Their targets are judged on the median round; 0
    /// judges them on the single runs.
    #[arg(long, default_value_t = 5)]
    paired_rounds: usize,
    /// Only these scenarios (ids as in the report), e.g. `1,2`.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Soak mode: one run of this many seconds at 256 connections instead of the
    /// scenarios (no report; prints a JSON summary and writes it to --soak-out).
    #[arg(long)]
    soak: Option<u64>,
    /// With --soak: inject faults (Box 429s and 503s, a JWKS outage, policy reloads).
    #[arg(long, requires = "soak")]
    soak_faults: bool,
    /// With --soak: where the JSON summary goes.
    #[arg(long, default_value = "target/soak.json")]
    soak_out: PathBuf,
    /// The command line recorded in the report.
    #[arg(long, default_value = "scripts/bench.sh")]
    command: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let wrk_version = wrk_version(&cli.wrk).await?;
    if cli.connections.contains(&0) {
        bail!("--connections: every count must be at least 1");
    }
    for id in &cli.only {
        if scenarios::find(id).is_none() {
            bail!("--only: no scenario {id:?}");
        }
    }
    let workdir = tempfile::tempdir()?;
    if cli.users == 0 || cli.cold_users == 0 {
        bail!("--users and --cold-users must be at least 1");
    }
    let fixture = Fixture::start(workdir.path(), cli.users, cli.cold_users).await?;
    if cli.soak.is_some() {
        let report = soak::run(&cli, &fixture, workdir.path(), cli.soak_faults).await?;
        let json = serde_json::to_string_pretty(&report)?;
        println!("{json}");
        std::fs::write(&cli.soak_out, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", cli.soak_out.display()))?;
        if report.failures > 0 {
            bail!("the soak had {} failures", report.failures);
        }
        return Ok(());
    }
    let mut load = Vec::new();
    for scenario in SCENARIOS {
        if !cli.only.is_empty() && !cli.only.iter().any(|id| id == scenario.id) {
            continue;
        }
        for &connections in &cli.connections {
            let result = run_one(&cli, &fixture, workdir.path(), scenario, connections)
                .await
                .with_context(|| {
                    format!("scenario {} at {connections} connections", scenario.id)
                })?;
            let m = &result.measured;
            if m.reused_tokens > 0 {
                eprintln!(
                    "  {} requests reused a token: raise --cold-users",
                    m.reused_tokens
                );
            }
            eprintln!(
                "scenario {:>2} c={:<3} {:>8.0} req/s  requests {}  p50 {:>8.0} µs  p99 {:>8.0} µs  errors {}  rss {:.1} MB",
                scenario.id,
                connections,
                m.requests_per_second(),
                m.requests,
                m.p50_us,
                m.p99_us,
                m.errors(),
                result.peak_rss_mb(),
            );
            load.push(result);
        }
    }

    let paired = run_paired(&cli, &fixture, workdir.path()).await?;

    let micro = micro::read_all(&cli.criterion);
    let context = report::Context {
        command: cli.command.clone(),
        generated_at: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).await,
        machine: machine(&wrk_version).await,
        method: method(&cli),
        notes: std::fs::read_to_string(&cli.notes).ok(),
    };
    let text = report::render(&context, &micro, &load, &paired);
    std::fs::write(&cli.out, &text)
        .with_context(|| format!("cannot write {}", cli.out.display()))?;
    eprintln!("wrote {}", cli.out.display());
    let misses: Vec<_> = report::judge(&micro, &load, &paired)
        .into_iter()
        .filter(|j| j.met == Some(false))
        .map(|j| j.what)
        .collect();
    if !misses.is_empty() {
        eprintln!("targets missed: {}", misses.join("; "));
    }
    Ok(())
}

/// The scenarios judged on paired runs, with their baselines.
const PAIRED: &[(&str, &str)] = &[("2", "1"), ("3", "3b"), ("2e", "2"), ("3e", "3")];

/// [`PAIRED`] scenarios (those selected) run alternately with their baselines,
/// `--paired-rounds` times each at 64 connections.
async fn run_paired(
    cli: &Cli,
    fixture: &Fixture,
    dir: &Path,
) -> anyhow::Result<Vec<report::Paired>> {
    const CONNECTIONS: u32 = 64;
    let selected = |id: &str| cli.only.is_empty() || cli.only.iter().any(|o| o == id);
    let mut out = Vec::new();
    for &(id, baseline) in PAIRED {
        if cli.paired_rounds == 0 || !selected(id) {
            continue;
        }
        let (on, off) = match (scenarios::find(id), scenarios::find(baseline)) {
            (Some(on), Some(off)) => (on, off),
            _ => bail!("no scenario {id} or {baseline}"),
        };
        let mut rounds = Vec::with_capacity(cli.paired_rounds);
        for round in 1..=cli.paired_rounds {
            // The order alternates (off-on, on-off, …): the machine drifts over
            // minutes, and a fixed order would lend the drift to one side.
            let (base, with) = if round % 2 == 1 {
                let base = run_one(cli, fixture, dir, off, CONNECTIONS).await?;
                (base, run_one(cli, fixture, dir, on, CONNECTIONS).await?)
            } else {
                let with = run_one(cli, fixture, dir, on, CONNECTIONS).await?;
                (run_one(cli, fixture, dir, off, CONNECTIONS).await?, with)
            };
            let ratio = with.measured.requests_per_second()
                / base.measured.requests_per_second().max(f64::MIN_POSITIVE);
            eprintln!(
                "paired {id} vs {baseline} round {round}: {:.0} / {:.0} req/s = {:.1} %",
                with.measured.requests_per_second(),
                base.measured.requests_per_second(),
                ratio * 100.0
            );
            rounds.push((base, with));
        }
        out.push(report::Paired {
            id,
            baseline,
            connections: CONNECTIONS,
            rounds,
        });
    }
    Ok(out)
}

async fn run_one(
    cli: &Cli,
    fixture: &Fixture,
    dir: &Path,
    scenario: &'static Scenario,
    connections: u32,
) -> anyhow::Result<LoadResult> {
    let binary = match scenario.server {
        Server::BoxMcp => cli.server.clone(),
        Server::Echo => echo_binary()?,
    };
    let server = ServerProcess::start(
        &binary,
        &cli.repo,
        &server_env(fixture, scenario, &cli.server_env),
        &dir.join("server.log"),
    )
    .await?;
    let tokens = match scenario.callers {
        Callers::Anonymous => Tokens::None,
        Callers::One => Tokens::Cycle(fixture.alice_token.clone()),
        Callers::EachNew => Tokens::Once(fixture.cold_user_tokens.clone()),
        Callers::AllInTurn => Tokens::Cycle(fixture.user_tokens.clone()),
        Callers::Forged => Tokens::Cycle(fixture.forged_token.clone()),
        Callers::ForgedEachNew => Tokens::Once(fixture.forged_tokens.clone()),
    };
    let url = format!("{}/mcp", server.base);
    let mut wrk_run = wrk::Run {
        wrk: &cli.wrk,
        url: &url,
        body: scenario.call.body(),
        tokens: &tokens,
        expected_status: scenario.callers.expected_status(),
        connections,
        duration: Duration::from_secs(cli.warm_up),
        script_dir: dir,
    };
    if scenario.warm_up && cli.warm_up > 0 {
        let warm = wrk::run(&wrk_run).await?;
        if warm.errors() > 0 {
            eprintln!("  warm-up had {} errors", warm.errors());
        }
    }
    let sandbox_seq_before = last_sandbox_seq(fixture);
    fixture.sandbox.clear_requests();
    wrk_run.duration = Duration::from_secs(cli.duration);
    let log_before = server.log_bytes();
    let cpu_before = server.cpu_us()?;
    let measured = wrk::run(&wrk_run).await?;
    let cpu_us = server.cpu_us()?.saturating_sub(cpu_before);
    let log_bytes = server.log_bytes().saturating_sub(log_before);
    let peak_rss_kib = server.peak_rss_kib()?;
    let warnings = server.warnings();
    server.stop().await;
    if !warnings.is_empty() && scenario.authenticated() {
        eprintln!(
            "  the server logged {} warnings, first: {}",
            warnings.len(),
            warnings[0]
        );
    }

    let entries = fixture.sandbox.requests();
    let box_calls = entries
        .last()
        .map_or(0, |e| e.seq.saturating_sub(sandbox_seq_before));
    let (box_calls_per_request, sandbox_p50_us) = if scenario.call == Call::FolderList {
        let mut handled: Vec<u64> = entries
            .iter()
            .filter(|e| e.method == "GET" && e.path.ends_with("/items"))
            .map(|e| e.handled_us)
            .collect();
        (
            (measured.requests > 0).then(|| box_calls as f64 / measured.requests as f64),
            median(&mut handled),
        )
    } else {
        (None, None)
    };
    // Scenario 4's floor: its Box call made directly, right after the run.
    let direct_p50_us = match entries
        .iter()
        .rev()
        .find(|e| e.method == "GET" && e.path.ends_with("/items"))
    {
        Some(e) if scenario.call == Call::FolderList && connections == 1 => {
            let path_and_query = match &e.query {
                Some(q) => format!("{}?{q}", e.path),
                None => e.path.clone(),
            };
            let direct = direct::measure(&fixture.sandbox, &path_and_query, DIRECT_DURATION)
                .await
                .context("the direct sandbox call")?;
            eprintln!(
                "  the same Box call made directly: p50 {:.0} µs over {} requests",
                direct.p50_us, direct.requests
            );
            Some(direct.p50_us)
        }
        _ => None,
    };
    let log_bytes_per_request =
        (measured.requests > 0).then(|| log_bytes as f64 / measured.requests as f64);
    let server_cpu_us_per_request =
        (measured.requests > 0).then(|| cpu_us as f64 / measured.requests as f64);
    Ok(LoadResult {
        scenario,
        connections,
        measured,
        peak_rss_kib,
        log_bytes_per_request,
        box_calls_per_request,
        sandbox_p50_us,
        direct_p50_us,
        server_cpu_us_per_request,
    })
}

/// How long the direct sandbox call is measured.
const DIRECT_DURATION: Duration = Duration::from_secs(2);

/// `box-mcp-echo`, built beside this binary (`cargo build -p box-mcp-loadbench`
/// builds both).
fn echo_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find the benchmark's own binary")?;
    let echo = me.with_file_name("box-mcp-echo");
    if !echo.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release -p box-mcp-loadbench`",
            echo.display()
        );
    }
    Ok(echo)
}

fn last_sandbox_seq(fixture: &Fixture) -> u64 {
    fixture.sandbox.requests().last().map_or(0, |e| e.seq)
}

fn median(values: &mut [u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[values.len() / 2] as f64)
}

/// The server's whole configuration: production defaults except what a
/// benchmark on loopback needs.
fn server_env(
    fixture: &Fixture,
    scenario: &Scenario,
    extra: &[(String, String)],
) -> Vec<(String, String)> {
    let authenticated = scenario.authenticated();
    use box_sandbox::fixture as seed;
    let sandbox = &fixture.sandbox;
    let mut env: Vec<(&str, String)> = vec![
        ("BOX_MCP_LISTEN", "127.0.0.1:0".into()),
        ("BOX_MCP_PUBLIC_BASE_URL", PUBLIC_BASE_URL.into()),
        ("BOX_MCP_STATELESS", "true".into()),
        ("BOX_MCP_AUTH__ISSUER", fixture.issuer.url.clone()),
        ("BOX_MCP_LOG__FORMAT", "json".into()),
        ("BOX_MCP_BOX__MODE", "per_user".into()),
        ("BOX_MCP_BOX__AUTH", "ccg".into()),
        ("BOX_MCP_BOX__API_BASE_URL", sandbox.api_base_url()),
        ("BOX_MCP_BOX__UPLOAD_BASE_URL", sandbox.upload_base_url()),
        ("BOX_MCP_BOX__TOKEN_URL", sandbox.token_url()),
        ("BOX_MCP_BOX__REVOKE_URL", sandbox.revoke_url()),
        ("BOX_MCP_BOX__ENTERPRISE_ID", seed::ENTERPRISE_ID.into()),
        ("BOX_MCP_BOX__CLIENT_ID", seed::CCG_CLIENT_ID.into()),
        ("BOX_MCP_BOX__CLIENT_SECRET", seed::CCG_CLIENT_SECRET.into()),
    ];
    if !authenticated {
        env.push(("BOX_MCP_AUTH__INSECURE_DISABLED", "true".into()));
    }
    match scenario.edge {
        // Every request is counted and checked, against buckets no run can empty
        // (every request comes from 127.0.0.1, most from one user).
        Edge::On => env.extend([
            (
                "BOX_MCP_RATE_LIMIT__PER_SUBJECT__PER_SECOND",
                "1000000".into(),
            ),
            ("BOX_MCP_RATE_LIMIT__PER_SUBJECT__BURST", "1000000".into()),
            (
                "BOX_MCP_RATE_LIMIT__PER_CLIENT__PER_SECOND",
                "1000000".into(),
            ),
            ("BOX_MCP_RATE_LIMIT__PER_CLIENT__BURST", "1000000".into()),
        ]),
        Edge::Off => env.extend([
            ("BOX_MCP_RATE_LIMIT__ENABLED", "false".into()),
            ("BOX_MCP_METRICS__ENABLED", "false".into()),
        ]),
    }
    let mut env: Vec<(String, String)> = env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    if scenario.linked {
        env.extend(fixture.linked.server_env());
    }
    env.extend(extra.iter().cloned());
    env
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if k.starts_with("BOX_MCP_") => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected BOX_MCP_KEY=VALUE, got {s:?}")),
    }
}

fn method(cli: &Cli) -> Vec<String> {
    let mut lines = vec![
        format!(
            "Load generator: `wrk` with a Lua script (`loadbench/src/wrk.rs`), 1 thread at 1 \
             connection and 2 threads otherwise, {} s measured per run after {} s of the \
             same load for the warm scenarios. Every answer is checked: HTTP 200 with a \
             JSON-RPC `result` that is not a tool error, or it counts as an error.",
            cli.duration, cli.warm_up
        ),
        "Server: `box-mcp serve` built with `--release --features insecure-no-auth` (the \
         feature only lets scenarios 1 and 3b turn authentication off); a fresh process \
         for every run, so caches start empty and the peak RSS (`VmHWM`) is that run's. \
         Production defaults otherwise: log level `info` (JSON, to a file), audit events, \
         policy `policies/` with hot reload, stateless MCP (`stateless = true`, one POST \
         per call, no session)."
            .into(),
        format!(
            "Box: box-sandbox in the benchmark process on loopback, per-user mode with \
             client-credentials user tokens downscoped per call; {} benchmark users \
             (scenario 6 cycles through the first {}). Identity: a local OIDC issuer with an RSA-2048 key; RS256 \
             tokens with audience `{PUBLIC_BASE_URL}/mcp`.",
            cli.users.max(cli.cold_users),
            cli.users
        ),
        "Scenarios 1–4 use one caller (alice, role `mcp-admin`, who sees every tool like \
         the baseline). Scenario 5 sends each benchmark user's token once (a run that \
         runs out of users says so); scenario 6 sends them in turn for the whole run, so \
         the first pass is cold and the rest meet a cache holding every user. \
         Scenario 7 is scenario 4 with alice's Box account linked at the IdP \
         (`per_user_token = \"linked\"`; a stand-in for Keycloak's token exchange and \
         broker endpoint runs in the benchmark process): with warm caches the IdP is \
         not called, so 7 against 4 is the cost of the linked path itself."
            .into(),
        "Scenario 0 is the floor: `box-mcp-echo` (`loadbench/src/bin/box-mcp-echo.rs`), \
         a minimal JSON-RPC server on axum that parses each body and answers a result, \
         driven with scenario 3's requests. Scenarios 8 and 8n send forged tokens \
         (alice's header and claims, a signature of the right length that no key made) \
         and count a 401 with a `WWW-Authenticate` challenge as the right answer: 8 one \
         token again and again (refused from the negative cache after the first \
         signature check), 8n a new one every request (a signature check each). After \
         scenario 4 at 1 connection, the very folder listing box-mcp sent is sent \
         straight to the sandbox for 2 s, one at a time, by a plain reqwest (hyper) \
         client with a user token (`loadbench/src/direct.rs`): the Box-path overhead is \
         scenario 4 − scenario 3 − that direct call, all at p50."
            .into(),
        "The load generator, the sandbox and the server share the machine's cores: \
         throughput is what the whole loop reaches, and ratios between scenarios are the \
         figures to read."
            .into(),
    ];
    if !cli.server_env.is_empty() {
        let settings: Vec<String> = cli
            .server_env
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        lines.push(format!(
            "Server settings added for this run: {}.",
            settings.join(", ")
        ));
    }
    lines
}

async fn machine(wrk_version: &str) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, v)| v.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    vec![
        ("CPU".into(), cpu),
        ("cores available".into(), cores.to_string()),
        ("memory".into(), memory),
        ("OS".into(), command_output("uname", &["-srm"]).await),
        (
            "rustc".into(),
            command_output("rustc", &["--version"]).await,
        ),
        ("load generator".into(), wrk_version.to_owned()),
    ]
}

async fn command_output(program: &str, args: &[&str]) -> String {
    match tokio::process::Command::new(program)
        .args(args)
        .output()
        .await
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        Err(_) => "unknown".into(),
    }
}

/// `wrk -v` prints its version (and exits 1); a missing wrk is a clear error.
async fn wrk_version(wrk: &Path) -> anyhow::Result<String> {
    let out = tokio::process::Command::new(wrk)
        .arg("-v")
        .output()
        .await
        .with_context(|| {
            format!(
                "cannot run `{}`: install wrk (Debian: apt-get install wrk), or pass --wrk",
                wrk.display()
            )
        })?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.starts_with("wrk "))
        .map(|l| l.split(" Copyright").next().unwrap_or(l).trim().to_owned())
        .context("the wrk binary did not say its version")
}
