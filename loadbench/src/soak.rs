//! The soak mode (`--soak SECONDS`, not part of `scripts/bench.sh`'s report): one
//! long run at 256 connections of scenario 6's load (Box folder listings, every
//! benchmark user in turn), with the server's resident set sampled every 10 s.
//! With `--soak-faults`, the run also has:
//! - the sandbox answering 429 (`Retry-After: 1`) to 1 in 20 Box API calls and 503
//!   to 1 in 97 (5 % and 1 %);
//! - the issuer's JWKS endpoint failing for 30 s, from the first minute on, while
//!   the server refreshes its keys every 15 s;
//! - the tool policy rewritten (and so reloaded) every minute.
//!
//! Every answer is classified (wrk's Lua script): a result, a documented tool
//! error (`box_unavailable` when Box's 429s or 503s outlast the retries), or a
//! failure (any 5xx from box-mcp, socket errors, time-outs, anything else).

use std::{path::Path, time::Duration};

use anyhow::Context;
use box_sandbox::FaultSpec;
use serde::Serialize;

use crate::{
    Cli,
    fixture::Fixture,
    issuer::Mode,
    scenarios,
    server::ServerProcess,
    wrk::{self, Measured, Tokens},
};

/// Tool errors a request may end in when Box misbehaves: documented in the README.
const DOCUMENTED_TOOL_ERRORS: &[&str] = &["tool_error:box_unavailable"];

#[derive(Debug, Serialize)]
pub struct SoakReport {
    pub faults: bool,
    pub connections: u32,
    pub seconds: u64,
    pub requests: u64,
    pub requests_per_second: f64,
    pub outcomes: std::collections::BTreeMap<String, u64>,
    pub socket_errors_and_timeouts: u64,
    /// Answers that are neither a result nor a documented error.
    pub failures: u64,
    /// VmRSS in MiB: the first sample (10 s in), the one after a minute, the last, the highest.
    pub rss_mib_at_10s: f64,
    pub rss_mib_at_60s: f64,
    pub rss_mib_at_end: f64,
    pub rss_mib_max: f64,
    pub policy_reloads: u32,
    /// JWKS fetches during the run (refreshes, failed ones included).
    pub jwks_fetches: usize,
    /// WARN and ERROR lines the server logged, by message.
    pub server_warnings: std::collections::BTreeMap<String, usize>,
    pub faults_injected: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

pub async fn run(
    cli: &Cli,
    fixture: &Fixture,
    dir: &Path,
    faults: bool,
) -> anyhow::Result<SoakReport> {
    let seconds = cli.soak.context("--soak SECONDS")?;
    let connections = 256;
    let scenario = scenarios::find("6").context("scenario 6")?;
    // The policy from a copy, so it can be rewritten.
    let policies = dir.join("soak-policies");
    std::fs::create_dir_all(&policies)?;
    for file in ["model.conf", "policy.csv"] {
        std::fs::copy(cli.repo.join("policies").join(file), policies.join(file))
            .with_context(|| format!("cannot copy policies/{file}"))?;
    }
    let policy_file = policies.join("policy.csv");
    let original_policy = std::fs::read_to_string(&policy_file)?;
    let mut env = crate::server_env(fixture, scenario, &cli.server_env);
    env.push((
        "BOX_MCP_POLICY__MODEL".into(),
        policies.join("model.conf").display().to_string(),
    ));
    env.push((
        "BOX_MCP_POLICY__POLICY".into(),
        policy_file.display().to_string(),
    ));
    if faults {
        // Refresh the keys often, so the JWKS outage makes refreshes fail (the last
        // good keys must carry on) rather than pass unnoticed between two refreshes.
        env.push(("BOX_MCP_AUTH__JWKS_REFRESH_INTERVAL".into(), "15s".into()));
    }
    let server =
        ServerProcess::start(&cli.server, &cli.repo, &env, &dir.join("soak-server.log")).await?;

    fixture.sandbox.clear_faults();
    if faults {
        for (one_in, status) in [(20, 429), (97, 503)] {
            fixture
                .sandbox
                .add_fault(FaultSpec {
                    path: Some("/2.0/".into()),
                    status: Some(status),
                    retry_after: (status == 429).then_some(1),
                    one_in: Some(one_in),
                    ..Default::default()
                })
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }

    let url = format!("{}/mcp", server.base);
    let tokens = Tokens::Cycle(fixture.user_tokens.clone());
    let load = wrk::Run {
        wrk: &cli.wrk,
        url: &url,
        body: scenario.call.body(),
        tokens: &tokens,
        expected_status: 200,
        connections,
        duration: Duration::from_secs(seconds),
        script_dir: dir,
    };
    let jwks_before = fixture.issuer.jwks_hits();
    let started = tokio::time::Instant::now();
    let wrk_run = wrk::run(&load);
    tokio::pin!(wrk_run);
    let mut samples: Vec<(u64, f64)> = Vec::new();
    let mut reloads = 0u32;
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    let measured: Measured = loop {
        tokio::select! {
            measured = &mut wrk_run => break measured?,
            _ = tick.tick() => {
                let at = started.elapsed().as_secs();
                samples.push((at, server.rss_kib()? as f64 / 1024.0));
                if faults {
                    if (60..70).contains(&at) {
                        fixture.issuer.set_mode(Mode::JwksFailing);
                    }
                    if (90..100).contains(&at) {
                        fixture.issuer.set_mode(Mode::Up);
                    }
                    if at >= 60 && at % 60 < 10 {
                        reloads += 1;
                        let marker = format!("\n# soak reload {reloads}\n");
                        std::fs::write(&policy_file, format!("{original_policy}{marker}"))?;
                    }
                }
            }
        }
    };
    fixture.issuer.set_mode(Mode::Up);
    let faults_injected = fixture.sandbox.faults().iter().map(|f| f.hits).sum();
    fixture.sandbox.clear_faults();
    let jwks_fetches = fixture.issuer.jwks_hits() - jwks_before;
    let mut server_warnings = std::collections::BTreeMap::new();
    for line in server.warnings() {
        let message = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(line);
        *server_warnings.entry(message).or_insert(0) += 1;
    }
    // The server's log, kept beside the summary (stopping the server removes it).
    let kept_log = cli.soak_out.with_extension("server.log");
    std::fs::copy(dir.join("soak-server.log"), &kept_log)
        .with_context(|| format!("cannot keep the server log as {}", kept_log.display()))?;
    server.stop().await;

    let socket =
        measured.connect_errors + measured.read_errors + measured.write_errors + measured.timeouts;
    let failures = measured
        .outcomes
        .iter()
        .filter(|(k, _)| *k != "ok" && !DOCUMENTED_TOOL_ERRORS.contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum::<u64>()
        + socket;
    let at = |t: u64| {
        samples
            .iter()
            .find(|(s, _)| *s >= t)
            .or(samples.last())
            .map_or(0.0, |(_, r)| *r)
    };
    Ok(SoakReport {
        faults,
        connections,
        seconds,
        requests: measured.requests,
        requests_per_second: measured.requests_per_second(),
        outcomes: measured.outcomes.clone(),
        socket_errors_and_timeouts: socket,
        failures,
        rss_mib_at_10s: at(10),
        rss_mib_at_60s: at(60),
        rss_mib_at_end: samples.last().map_or(0.0, |(_, r)| *r),
        rss_mib_max: samples.iter().map(|(_, r)| *r).fold(0.0, f64::max),
        policy_reloads: reloads,
        jwks_fetches,
        server_warnings,
        faults_injected,
        p50_ms: measured.p50_us / 1000.0,
        p99_ms: measured.p99_us / 1000.0,
    })
}
