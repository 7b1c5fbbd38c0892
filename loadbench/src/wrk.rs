//! Drives the server with `wrk` (a C HTTP load generator; scripting in Lua).
//!
//! The Lua script sends one MCP JSON-RPC body per request, picks the bearer
//! token per request from a file, checks every answer (HTTP 200 with a JSON-RPC
//! `result` that is not a tool error), and prints one `BENCH_RESULT {json}` line.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use serde::Deserialize;

/// How requests pick their bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tokens {
    /// No Authorization header.
    None,
    /// Every request sends the tokens of this file in turn, starting over at the end.
    Cycle(PathBuf),
    /// Every token of this file is sent once (reuses are counted, see [`Measured`]).
    Once(PathBuf),
}

/// One wrk run.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    pub wrk: &'a Path,
    pub url: &'a str,
    pub body: &'a str,
    pub tokens: &'a Tokens,
    /// The status every answer must have (200 answers must also be a result).
    pub expected_status: u16,
    pub connections: u32,
    pub duration: Duration,
    pub script_dir: &'a Path,
}

/// What one run measured (latencies in microseconds).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Measured {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub status_errors: u64,
    pub timeouts: u64,
    /// HTTP 200 answers that were not a successful JSON-RPC result.
    pub bad_responses: u64,
    /// With [`Tokens::Once`]: requests that had to send a token again because
    /// the file ran out (the run was no longer all first sightings).
    pub reused_tokens: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Every answer by what it was: `ok`, `tool_error:<code>`, `jsonrpc_error`,
    /// or `http_<status>` (socket errors and time-outs are counted above).
    #[serde(default)]
    pub outcomes: std::collections::BTreeMap<String, u64>,
}

impl Measured {
    pub fn requests_per_second(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Every failed request: socket errors, non-2xx answers, time-outs and bad bodies.
    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.status_errors
            + self.timeouts
            + self.bad_responses
    }
}

/// Threads: wrk needs at least one connection per thread; two threads are as many
/// as this two-core machine can give the load generator.
fn threads_for(connections: u32) -> u32 {
    connections.clamp(1, 2)
}

pub async fn run(run: &Run<'_>) -> anyhow::Result<Measured> {
    let threads = threads_for(run.connections);
    let script = run.script_dir.join("mcp.lua");
    std::fs::write(
        &script,
        lua_script(run.body, run.tokens, run.expected_status, threads)?,
    )
    .context("cannot write the wrk script")?;
    let seconds = run.duration.as_secs_f64().ceil().max(1.0) as u64;
    let output = tokio::process::Command::new(run.wrk)
        .arg(format!("-t{threads}"))
        .arg(format!("-c{}", run.connections))
        .arg(format!("-d{seconds}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script)
        .arg(run.url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {}", run.wrk.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("wrk failed ({}):\n{stdout}\n{stderr}", output.status);
    }
    let measured = parse_result(&stdout)
        .with_context(|| format!("no result from wrk:\n{stdout}\n{stderr}"))?;
    if measured.bad_responses > 0 {
        eprintln!("  wrk: bad responses, first ones:\n{stderr}");
    }
    Ok(measured)
}

fn parse_result(stdout: &str) -> anyhow::Result<Measured> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_RESULT "))
        .context("no BENCH_RESULT line")?;
    Ok(serde_json::from_str(line)?)
}

/// A Lua string literal (JSON bodies and paths contain quotes, never newlines
/// after escaping).
fn lua_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn lua_script(
    body: &str,
    tokens: &Tokens,
    expected_status: u16,
    threads: u32,
) -> anyhow::Result<String> {
    let (mode, file) = match tokens {
        Tokens::None => ("none", String::new()),
        Tokens::Cycle(p) => ("cycle", path_str(p)?),
        Tokens::Once(p) => ("once", path_str(p)?),
    };
    Ok(format!(
        r#"-- Generated by box-mcp-loadbench.
local body = {body}
local token_mode = {mode}
local token_file = {file}
local thread_count = {threads}
local expected_status = {expected_status}

local threads = {{}}
local next_index = 0

function setup(thread)
  thread:set("index", next_index)
  next_index = next_index + 1
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  outcomes = {{}}
  reused = 0
  tokens = {{}}
  if token_mode ~= "none" then
    local all = {{}}
    for line in io.lines(token_file) do
      all[#all + 1] = line
    end
    -- Threads share the tokens out; with fewer tokens than threads, each sends all.
    for i, line in ipairs(all) do
      if #all < thread_count or (i - 1) % thread_count == index then
        tokens[#tokens + 1] = line
      end
    end
  end
  -- Every request is built here, once: per request the generator only picks
  -- one, so a scenario with tokens costs the generator no more than one without
  -- (it shares the cores with the server).
  local headers = {{
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["MCP-Protocol-Version"] = "2025-11-25",
  }}
  prepared = {{}}
  if #tokens == 0 then
    prepared[1] = wrk.format("POST", nil, headers, body)
  else
    for i, token in ipairs(tokens) do
      headers["Authorization"] = "Bearer " .. token
      prepared[i] = wrk.format("POST", nil, headers, body)
    end
  end
  tokens = nil
  position = 0
  wrapped = false
end

function request()
  position = position + 1
  if position > #prepared then
    position = 1
    wrapped = true
  end
  -- "once": every token should be sent once; each request after the pool ran
  -- out is counted, and the report says the pool was too small.
  if wrapped and token_mode == "once" then
    reused = reused + 1
  end
  return prepared[position]
end

function response(status, response_headers, response_body)
  local outcome
  if status == expected_status and status ~= 200 then
    -- A refusal must say how to authenticate.
    if response_headers["WWW-Authenticate"] ~= nil or response_headers["www-authenticate"] ~= nil then
      outcome = "ok"
    else
      outcome = "http_" .. status .. "_without_challenge"
    end
  elseif status ~= 200 then
    outcome = "http_" .. status
  elseif string.find(response_body, '"isError":true', 1, true) ~= nil then
    outcome = "tool_error:" .. (string.match(response_body, '"error":"([%w_]+)"') or "unknown")
  elseif string.find(response_body, '"result":', 1, true) ~= nil then
    outcome = "ok"
  else
    outcome = "jsonrpc_error"
  end
  outcomes[outcome] = (outcomes[outcome] or 0) + 1
  if outcome ~= "ok" then
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write(status .. " " .. string.sub(response_body, 1, 400) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  local reused_total = 0
  local all_outcomes = {{}}
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    reused_total = reused_total + (thread:get("reused") or 0)
    for outcome, n in pairs(thread:get("outcomes") or {{}}) do
      all_outcomes[outcome] = (all_outcomes[outcome] or 0) + n
    end
  end
  local parts = {{}}
  for outcome, n in pairs(all_outcomes) do
    parts[#parts + 1] = string.format('"%s":%d', outcome, n)
  end
  local e = summary.errors
  -- wrk counts every answer over 399 as a status error; when one is expected,
  -- response() has judged each answer instead.
  local status_errors = e.status
  if expected_status ~= 200 then
    status_errors = 0
  end
  io.write(string.format(
    'BENCH_RESULT {{"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"bad_responses":%d,' ..
    '"reused_tokens":%d,"p50_us":%.1f,"p99_us":%.1f,"p999_us":%.1f,"max_us":%.1f,' ..
    '"outcomes":{{%s}}}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, status_errors, e.timeout,
    bad_total, reused_total, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max, table.concat(parts, ",")))
end
"#,
        body = lua_string(body),
        mode = lua_string(mode),
        file = lua_string(&file),
    ))
}

fn path_str(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_owned)
        .context("token file path is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lua_strings_escape_quotes_and_backslashes() {
        assert_eq!(
            lua_string(r#"{"a":"b\c"}"#),
            r#""{\"a\":\"b\\c\"}""#.to_string()
        );
    }

    #[test]
    fn parses_the_result_line_and_counts_every_error() {
        let out = "Running 1s test\nBENCH_RESULT {\"requests\":2000,\"duration_us\":1000000,\
            \"connect_errors\":0,\"read_errors\":1,\"write_errors\":0,\"status_errors\":2,\
            \"timeouts\":0,\"bad_responses\":3,\"reused_tokens\":0,\"p50_us\":100.0,\"p99_us\":200.5,\
            \"p999_us\":300.0,\"max_us\":900.0}\n";
        let m = parse_result(out).unwrap();
        assert_eq!(m.requests, 2000);
        assert_eq!(m.errors(), 6);
        assert!((m.requests_per_second() - 2000.0).abs() < 1e-9);
        assert!(parse_result("Running 1s test\n").is_err());
    }

    #[test]
    fn the_script_names_its_token_file_and_mode() {
        let s = lua_script("{}", &Tokens::Once(PathBuf::from("/tmp/t.txt")), 401, 2).unwrap();
        assert!(s.contains("local expected_status = 401"));
        assert!(s.contains(r#"local token_mode = "once""#));
        assert!(s.contains(r#"local token_file = "/tmp/t.txt""#));
        assert!(s.contains("local thread_count = 2"));
    }

    #[test]
    fn threads_never_outnumber_connections() {
        assert_eq!(threads_for(1), 1);
        assert_eq!(threads_for(16), 2);
    }
}
