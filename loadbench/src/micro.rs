//! The criterion micro-benchmarks' results, read from `target/criterion`.

use std::path::Path;

use serde::Deserialize;

/// One benchmark's median time per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct MicroResult {
    pub id: String,
    pub median_ns: f64,
}

#[derive(Deserialize)]
struct BenchmarkFile {
    full_id: String,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// Every benchmark criterion has a `new` result for under `dir`, sorted by id.
pub fn read_all(dir: &Path) -> Vec<MicroResult> {
    let mut out = Vec::new();
    collect(dir, &mut out);
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn collect(dir: &Path, out: &mut Vec<MicroResult>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(result) = read_one(&path) {
                out.push(result);
            }
        } else if path.file_name().is_some_and(|n| n != "report") {
            collect(&path, out);
        }
    }
}

fn read_one(new_dir: &Path) -> Option<MicroResult> {
    let bench: BenchmarkFile =
        serde_json::from_slice(&std::fs::read(new_dir.join("benchmark.json")).ok()?).ok()?;
    let estimates: Estimates =
        serde_json::from_slice(&std::fs::read(new_dir.join("estimates.json")).ok()?).ok()?;
    Some(MicroResult {
        id: bench.full_id,
        median_ns: estimates.median.point_estimate,
    })
}

/// The micro-benchmark targets of the performance issue: (benchmark id, what it
/// is, at most this many nanoseconds).
pub const TARGETS: &[(&str, &str, f64)] = &[
    (
        "verify/warm",
        "token verification, warm (verified-token cache)",
        2_000.0,
    ),
    (
        "verify/cold_rs256",
        "token verification, cold (RS256 signature)",
        30_000.0,
    ),
    (
        "decide/warm/10",
        "policy decision, warm (10-line policy)",
        1_000.0,
    ),
    (
        "decide/warm/10000",
        "policy decision, warm (10,000-line policy)",
        1_000.0,
    ),
    (
        "tools_list/warm/300_tools/10_lines",
        "tools/list filtering, 300 tools (10-line policy)",
        50_000.0,
    ),
    (
        "tools_list/warm/300_tools/10000_lines",
        "tools/list filtering, 300 tools (10,000-line policy)",
        50_000.0,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_criterion_output_and_skips_reports() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("verify/warm/new");
        std::fs::create_dir_all(&new).unwrap();
        std::fs::write(new.join("benchmark.json"), r#"{"full_id":"verify/warm"}"#).unwrap();
        std::fs::write(
            new.join("estimates.json"),
            r#"{"median":{"point_estimate":812.5}}"#,
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("report/new")).unwrap();
        let results = read_all(dir.path());
        assert_eq!(
            results,
            vec![MicroResult {
                id: "verify/warm".into(),
                median_ns: 812.5
            }]
        );
    }
}
