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
}
