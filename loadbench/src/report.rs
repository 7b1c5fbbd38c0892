//! `BENCHMARKS.md`: the machine, the targets and whether each is met, the
//! micro-benchmarks, and every load run.

use std::fmt::Write as _;

use crate::{
    micro::{self, MicroResult},
    scenarios::{self, Call, Scenario},
    wrk::Measured,
};

/// One scenario at one concurrency.
#[derive(Debug, Clone)]
pub struct LoadResult {
    pub scenario: &'static Scenario,
    pub connections: u32,
    pub measured: Measured,
    /// The server's peak resident set over the run (and its warm-up), in KiB.
    pub peak_rss_kib: u64,
    /// Bytes of server log per request during the measured run (`info`, JSON).
    pub log_bytes_per_request: Option<f64>,
    /// Box API calls per MCP request (token endpoint and API), from the sandbox's log.
    pub box_calls_per_request: Option<f64>,
    /// The sandbox's median handling time of the folder listings in this run.
    pub sandbox_p50_us: Option<f64>,
    /// The server's CPU time (user + system) per request in the measured run.
    pub server_cpu_us_per_request: Option<f64>,
}

/// One scenario run alternately with its baseline, again and again at the same
/// concurrency: a ratio between runs minutes apart moves by a few percent with
/// the machine, so a target finer than that is judged on the median of pairs.
#[derive(Debug, Clone)]
pub struct Paired {
    pub id: &'static str,
    pub baseline: &'static str,
    pub connections: u32,
    /// Each round's (baseline, scenario).
    pub rounds: Vec<(LoadResult, LoadResult)>,
}

impl Paired {
    /// Each round's throughput ratio, scenario over baseline.
    pub fn ratios(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|(base, r)| {
                let b = base.measured.requests_per_second();
                (b > 0.0).then(|| r.measured.requests_per_second() / b)
            })
            .collect()
    }

    /// Each round's ratio of server CPU per request, scenario over baseline.
    pub fn cpu_ratios(&self) -> Vec<f64> {
        self.rounds
            .iter()
            .filter_map(|(base, r)| {
                let b = base.server_cpu_us_per_request?;
                let c = r.server_cpu_us_per_request?;
                (b > 0.0).then(|| c / b)
            })
            .collect()
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median_of(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

impl LoadResult {
    pub fn peak_rss_mb(&self) -> f64 {
        self.peak_rss_kib as f64 * 1024.0 / 1e6
    }

    /// box-mcp's own share of a folder listing at the median: total latency
    /// minus the sandbox's handling time.
    pub fn overhead_p50_us(&self) -> Option<f64> {
        self.sandbox_p50_us.map(|s| self.measured.p50_us - s)
    }
}

pub struct Context {
    pub command: String,
    pub generated_at: String,
    pub machine: Vec<(String, String)>,
    pub method: Vec<String>,
    pub notes: Option<String>,
}

/// One target line: what, the goal, what was measured, whether it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub what: String,
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

fn find<'a>(load: &'a [LoadResult], id: &str, connections: u32) -> Option<&'a LoadResult> {
    load.iter()
        .find(|r| r.scenario.id == id && r.connections == connections)
}

fn ratio(load: &[LoadResult], r: &LoadResult) -> Option<f64> {
    let base = find(load, r.scenario.baseline?, r.connections)?;
    let base_rps = base.measured.requests_per_second();
    (base_rps > 0.0).then(|| r.measured.requests_per_second() / base_rps)
}

fn missing() -> Judged {
    Judged {
        what: String::new(),
        target: String::new(),
        measured: "not measured".into(),
        met: None,
    }
}

pub fn judge(micro: &[MicroResult], load: &[LoadResult], paired: &[Paired]) -> Vec<Judged> {
    let mut out = Vec::new();
    for (id, what, max_ns) in micro::TARGETS {
        let measured = micro.iter().find(|m| m.id == *id);
        out.push(Judged {
            what: format!("{what} (`{id}`)"),
            target: format!("≤ {}", duration(*max_ns)),
            measured: measured.map_or("not measured".into(), |m| duration(m.median_ns)),
            met: measured.map(|m| m.median_ns <= *max_ns),
        });
    }
    // Throughput at 64 connections against a baseline measured in the same run.
    for (id, base_name, min_ratio) in [
        ("2", "scenario 1", 0.9),
        ("3", "scenario 3b (whoami, no auth)", 0.9),
        ("2e", "scenario 2 (rate limits and metrics off)", 0.97),
        ("3e", "scenario 3 (rate limits and metrics off)", 0.97),
    ] {
        let pairs = paired
            .iter()
            .find(|p| p.id == id && p.connections == 64)
            .map(Paired::ratios)
            .filter(|r| !r.is_empty());
        let mut j = if let Some(ratios) = pairs {
            let median = median_of(ratios.clone()).unwrap_or_default();
            let (lo, hi) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            Judged {
                what: String::new(),
                target: String::new(),
                measured: format!(
                    "{:.1} % (median of {} paired runs, {:.1}–{:.1} %)",
                    median * 100.0,
                    ratios.len(),
                    lo * 100.0,
                    hi * 100.0
                ),
                met: Some(median >= min_ratio),
            }
        } else {
            find(load, id, 64).map_or_else(missing, |r| {
                let ratio = ratio(load, r);
                Judged {
                    what: String::new(),
                    target: String::new(),
                    measured: ratio
                        .map_or("not measured".into(), |x| format!("{:.1} %", x * 100.0)),
                    met: ratio.map(|x| x >= min_ratio),
                }
            })
        };
        j.what = format!("scenario {id} throughput at 64 connections, vs {base_name}");
        j.target = format!("≥ {:.0} %", min_ratio * 100.0);
        out.push(j);
    }
    let mut j = find(load, "4", 1).map_or_else(missing, |r| {
        let overhead = r.overhead_p50_us();
        Judged {
            what: String::new(),
            target: String::new(),
            measured: match (overhead, r.sandbox_p50_us) {
                (Some(o), Some(s)) => format!(
                    "{o:.0} µs ({:.0} µs total − {s:.0} µs in the sandbox)",
                    r.measured.p50_us
                ),
                _ => "not measured".into(),
            },
            met: overhead.map(|o| o <= 100.0),
        }
    });
    j.what = "scenario 4 box-mcp overhead at p50 (1 connection)".into();
    j.target = "≤ 100 µs".into();
    out.push(j);

    let errors: u64 = load.iter().map(|r| r.measured.errors()).sum();
    out.push(Judged {
        what: "errors, every scenario and concurrency".into(),
        target: "0".into(),
        measured: errors.to_string(),
        met: (!load.is_empty()).then_some(errors == 0),
    });
    let at_256 = load
        .iter()
        // Scenarios 5 and 6 fill the caches with thousands of users: their own target.
        // Scenario 7 (scenario 4 with a linked account) is held to this one.
        .filter(|r| r.connections == 256 && !matches!(r.scenario.id, "5" | "6"))
        .max_by_key(|r| r.peak_rss_kib);
    out.push(Judged {
        what: "server peak RSS at 256 connections (scenarios 1–4 and 7)".into(),
        target: "≤ 64 MB".into(),
        measured: at_256.map_or("not measured".into(), |r| {
            format!("{:.1} MB (scenario {})", r.peak_rss_mb(), r.scenario.id)
        }),
        met: at_256.map(|r| r.peak_rss_mb() <= 64.0),
    });
    // The loudest authenticated scenario at 64 connections.
    let loudest = load
        .iter()
        .filter(|r| r.connections == 64 && r.scenario.authenticated())
        .filter_map(|r| r.log_bytes_per_request.map(|b| (r, b)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    out.push(Judged {
        what: "log bytes per request at `info` (authenticated scenarios, 64 connections)".into(),
        target: "≤ 400 B".into(),
        measured: loudest.map_or("not measured".into(), |(r, b)| {
            format!("{b:.0} B (scenario {})", r.scenario.id)
        }),
        met: loudest.map(|(_, b)| b <= 400.0),
    });
    let churn = load
        .iter()
        .filter(|r| matches!(r.scenario.id, "5" | "6"))
        .max_by_key(|r| r.peak_rss_kib);
    out.push(Judged {
        what: "server peak RSS with thousands of distinct users cached (scenarios 5, 6)".into(),
        target: "≤ 128 MB".into(),
        measured: churn.map_or("not measured".into(), |r| {
            format!(
                "{:.1} MB (scenario {}, {} connections)",
                r.peak_rss_mb(),
                r.scenario.id,
                r.connections
            )
        }),
        met: churn.map(|r| r.peak_rss_mb() <= 128.0),
    });
    out
}

fn duration(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

pub fn render(
    ctx: &Context,
    micro: &[MicroResult],
    load: &[LoadResult],
    paired: &[Paired],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `{}` on {}. Every figure below comes from that one run; \
         ratios compare runs made minutes apart on the same machine.\n",
        ctx.command, ctx.generated_at
    );
    let _ = writeln!(s, "## Machine\n");
    for (k, v) in &ctx.machine {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n## How it was measured\n");
    for line in &ctx.method {
        let _ = writeln!(s, "- {line}");
    }

    let _ = writeln!(s, "\n## Targets\n");
    let _ = writeln!(s, "| what | target | measured | |");
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for j in judge(micro, load, paired) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            j.what,
            j.target,
            j.measured,
            met(j.met)
        );
    }

    let _ = writeln!(s, "\n## Load scenarios\n");
    let _ = writeln!(
        s,
        "Throughput ratio: requests per second against the scenario named, at the same \
         number of connections. Box calls: requests the sandbox received (token \
         endpoint and API) per MCP request. Overhead: median latency minus the \
         sandbox's median handling time. CPU: the server's CPU time (user and \
         system) per request. Log: bytes the server logged per request during the \
         measured run (JSON at `info`).\n"
    );
    let _ = writeln!(
        s,
        "| scenario | conns | req/s | p50 | p99 | p99.9 | errors | peak RSS | throughput ratio | Box calls | overhead p50 | CPU | log |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for scenario in scenarios::SCENARIOS {
        for r in load.iter().filter(|r| r.scenario.id == scenario.id) {
            let m = &r.measured;
            let ratio = match (ratio(load, r), r.scenario.baseline) {
                (Some(x), Some(b)) => format!("{:.2} (vs {b})", x),
                _ => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {} {} | {} | {:.0} | {} | {} | {} | {} | {:.1} MB | {} | {} | {} | {} | {} |",
                r.scenario.id,
                r.scenario.title,
                r.connections,
                m.requests_per_second(),
                duration(m.p50_us * 1e3),
                duration(m.p99_us * 1e3),
                duration(m.p999_us * 1e3),
                m.errors(),
                r.peak_rss_mb(),
                ratio,
                r.box_calls_per_request
                    .filter(|_| r.scenario.call == Call::FolderList)
                    .map_or("—".into(), |c| format!("{c:.2}")),
                r.overhead_p50_us()
                    .map_or("—".into(), |o| duration(o * 1e3)),
                r.server_cpu_us_per_request
                    .map_or("—".into(), |c| duration(c * 1e3)),
                r.log_bytes_per_request
                    .map_or("—".into(), |b| format!("{b:.0} B")),
            );
        }
    }

    for r in load.iter().filter(|r| r.measured.reused_tokens > 0) {
        let _ = writeln!(
            s,
            "\nScenario {} at {} connections ran out of new users: {} requests sent a \
             token again (raise `--cold-users`).",
            r.scenario.id, r.connections, r.measured.reused_tokens
        );
    }

    render_paired(&mut s, paired);

    let _ = writeln!(
        s,
        "\n## Micro-benchmarks (criterion, median per iteration)\n"
    );
    let _ = writeln!(s, "| benchmark | median |");
    let _ = writeln!(s, "| --- | ---: |");
    for m in micro {
        let _ = writeln!(s, "| `{}` | {} |", m.id, duration(m.median_ns));
    }
    if let Some(notes) = &ctx.notes {
        let _ = writeln!(s, "\n{}", notes.trim_end());
    }
    s
}

fn render_paired(s: &mut String, paired: &[Paired]) {
    if paired.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Paired runs\n");
    let _ = writeln!(
        s,
        "Each scenario and its baseline run alternately, a fresh server for each run, \
         the baseline first in odd rounds and second in even ones; the ratio of each \
         round, and its median, which the target is judged on. CPU \
         ratio: the server's CPU time per request, scenario over baseline (below 100 % \
         would mean the scenario is cheaper).\n"
    );
    let _ = writeln!(
        s,
        "| scenario | vs | conns | throughput ratio per round | median | CPU ratio per round | median |"
    );
    let _ = writeln!(s, "| --- | --- | ---: | --- | ---: | --- | ---: |");
    let percents = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{:.1} %", x * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let median = |v: Vec<f64>| median_of(v).map_or("—".into(), |m| format!("{:.1} %", m * 100.0));
    for p in paired {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            p.id,
            p.baseline,
            p.connections,
            percents(&p.ratios()),
            median(p.ratios()),
            percents(&p.cpu_ratios()),
            median(p.cpu_ratios()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(requests: u64, p50_us: f64, errors: u64) -> Measured {
        Measured {
            requests,
            duration_us: 1_000_000,
            connect_errors: 0,
            read_errors: 0,
            write_errors: 0,
            status_errors: errors,
            timeouts: 0,
            bad_responses: 0,
            reused_tokens: 0,
            p50_us,
            p99_us: p50_us * 2.0,
            p999_us: p50_us * 3.0,
            max_us: p50_us * 4.0,
            outcomes: Default::default(),
        }
    }

    fn result(id: &str, connections: u32, requests: u64, rss_kib: u64) -> LoadResult {
        LoadResult {
            scenario: scenarios::find(id).unwrap(),
            connections,
            measured: measured(requests, 300.0, 0),
            peak_rss_kib: rss_kib,
            log_bytes_per_request: None,
            box_calls_per_request: None,
            sandbox_p50_us: None,
            server_cpu_us_per_request: None,
        }
    }

    #[test]
    fn the_log_target_judges_the_loudest_authenticated_scenario() {
        let mut quiet = result("2", 64, 10_000, 20_000);
        quiet.log_bytes_per_request = Some(280.0);
        let mut loud = result("4", 64, 5_000, 20_000);
        loud.log_bytes_per_request = Some(450.0);
        let mut off = result("1", 64, 20_000, 20_000);
        off.log_bytes_per_request = Some(900.0);
        let judged = judge(&[], &[quiet, loud, off], &[]);
        let log = judged
            .iter()
            .find(|j| j.what.starts_with("log bytes"))
            .unwrap();
        assert_eq!(
            (log.measured.as_str(), log.met),
            ("450 B (scenario 4)", Some(false))
        );
    }

    #[test]
    fn throughput_targets_compare_with_their_own_baseline_at_64_connections() {
        let load = vec![
            result("1", 64, 10_000, 20_000),
            result("2", 64, 9_500, 20_000),
            result("3b", 64, 8_000, 20_000),
            result("3", 64, 7_000, 20_000),
        ];
        let judged = judge(&[], &load, &[]);
        let s2 = judged
            .iter()
            .find(|j| j.what.starts_with("scenario 2"))
            .unwrap();
        assert_eq!((s2.measured.as_str(), s2.met), ("95.0 %", Some(true)));
        let s3 = judged
            .iter()
            .find(|j| j.what.starts_with("scenario 3"))
            .unwrap();
        assert_eq!((s3.measured.as_str(), s3.met), ("87.5 %", Some(false)));
    }

    #[test]
    fn a_paired_target_is_judged_on_the_median_round_not_the_single_runs() {
        // The single runs say 90 %; the paired rounds say 96 %, 98 %, 99 %.
        let load = vec![
            result("2", 64, 10_000, 20_000),
            result("2e", 64, 9_000, 20_000),
        ];
        let rounds = [9_600, 9_800, 9_900]
            .into_iter()
            .map(|on| {
                (
                    result("2", 64, 10_000, 20_000),
                    result("2e", 64, on, 20_000),
                )
            })
            .collect();
        let paired = [Paired {
            id: "2e",
            baseline: "2",
            connections: 64,
            rounds,
        }];
        let judged = judge(&[], &load, &paired);
        let edge = judged
            .iter()
            .find(|j| j.what.starts_with("scenario 2e"))
            .unwrap();
        assert_eq!(edge.met, Some(true), "{}", edge.measured);
        assert!(
            edge.measured.starts_with("98.0 % (median of 3"),
            "{}",
            edge.measured
        );
        let single = judge(&[], &load, &[]);
        let edge = single
            .iter()
            .find(|j| j.what.starts_with("scenario 2e"))
            .unwrap();
        assert_eq!((edge.measured.as_str(), edge.met), ("90.0 %", Some(false)));
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median_of(vec![3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(median_of(vec![]), None);
    }

    #[test]
    fn overhead_is_latency_minus_sandbox_time() {
        let mut r = result("4", 1, 1000, 20_000);
        r.sandbox_p50_us = Some(220.0);
        let judged = judge(&[], &[r], &[]);
        let j = judged.iter().find(|j| j.what.contains("overhead")).unwrap();
        assert_eq!(j.met, Some(true));
        assert!(j.measured.starts_with("80 µs"), "{}", j.measured);
    }

    #[test]
    fn any_error_or_a_heavy_server_misses_its_target() {
        let mut r = result("1", 256, 1000, 70_000);
        r.measured = measured(1000, 300.0, 1);
        let judged = judge(&[], &[r], &[]);
        let errors = judged
            .iter()
            .find(|j| j.what.starts_with("errors"))
            .unwrap();
        assert_eq!(errors.met, Some(false));
        let rss = judged
            .iter()
            .find(|j| j.what.contains("peak RSS at 256"))
            .unwrap();
        assert_eq!(rss.met, Some(false), "{}", rss.measured);
    }

    #[test]
    fn nothing_measured_is_never_reported_as_met() {
        for j in judge(&[], &[], &[]) {
            assert_eq!(j.met, None, "{}", j.what);
        }
    }

    #[test]
    fn micro_targets_use_the_median() {
        let micro = vec![MicroResult {
            id: "verify/warm".into(),
            median_ns: 2_500.0,
        }];
        let judged = judge(&micro, &[], &[]);
        assert_eq!(judged[0].met, Some(false));
        assert_eq!(judged[0].measured, "2.50 µs");
    }
}
