//! One `box-mcp serve` process: started with a given configuration (environment
//! only, nothing inherited), its log sent to a file, stopped by closing stdin.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    process::{Child, Command},
    time::{Instant, sleep},
};

pub struct ServerProcess {
    child: Child,
    pid: u32,
    pub base: String,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts `binary serve` in `workdir` with exactly `env` (plus `PATH`), and
    /// waits until it listens and `/readyz` says ready.
    pub async fn start(
        binary: &Path,
        workdir: &Path,
        env: &[(String, String)],
        log_path: &Path,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--exit-on-stdin-close")
            .current_dir(workdir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let mut server = Self {
            child,
            pid,
            base: String::new(),
            log_path: log_path.to_owned(),
        };
        server.base = format!("http://{}", server.wait_listening().await?);
        server.wait_ready().await?;
        Ok(server)
    }

    /// The address from the server's `listening` log line.
    async fn wait_listening(&mut self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                    && v["message"] == "listening"
                    && let Some(addr) = v["addr"].as_str()
                {
                    return Ok(addr.to_owned());
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("box-mcp exited ({status}) before listening:\n{text}");
            }
            if Instant::now() > deadline {
                bail!("box-mcp did not listen within 30 s:\n{text}");
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = client
                .get(format!("{}/readyz", self.base))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("box-mcp at {} was not ready within 30 s", self.base);
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process's peak resident set so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read the server's /proc status (Linux only)")?;
        parse_vm_hwm(&status).context("no VmHWM line in /proc/<pid>/status")
    }

    /// The server's resident set now (VmRSS), in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("cannot read the server's /proc status (Linux only)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS line in /proc/<pid>/status")
    }

    /// CPU time the server has used so far (user + system), in microseconds.
    pub fn cpu_us(&self) -> anyhow::Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .context("cannot read the server's /proc stat (Linux only)")?;
        let ticks = parse_cpu_ticks(&stat).context("unexpected /proc/<pid>/stat")?;
        // `sysconf(_SC_CLK_TCK)` is 100 on every Linux that has run since 2.6.
        Ok(ticks * 10_000)
    }

    /// Bytes the server has written to its log so far.
    pub fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }

    /// Lines of the server's log at `WARN` or `ERROR`.
    pub fn warnings(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
            .map(str::to_owned)
            .collect()
    }

    /// Closes stdin (a clean shutdown), then kills after 10 s.
    pub async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        let _ = std::fs::remove_file(&self.log_path);
    }
}

/// utime + stime, in clock ticks: fields 14 and 15 of `/proc/<pid>/stat`, counted
/// after the command name, which is in parentheses and may hold spaces.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_peak_resident_set() {
        let status =
            "Name:\tbox-mcp\nVmPeak:\t  900000 kB\nVmHWM:\t   23456 kB\nVmRSS:\t 20000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(23456));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn reads_user_and_system_time_past_a_name_with_spaces() {
        let stat = "4242 (box mcp) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
        assert_eq!(parse_cpu_ticks("4242 (x) S 1"), None);
    }
}
