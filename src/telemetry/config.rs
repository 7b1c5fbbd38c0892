//! `[log]`: how and where box-mcp logs; `[metrics]`: whether it keeps metrics.

use serde::{Deserialize, Serialize};

use crate::setting::InvalidSetting;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info` or `box_mcp=debug,info`.
    pub level: String,
    /// Write the audit trail (one JSON line per decision) to this file, appending,
    /// instead of the main log.
    pub audit_file: Option<std::path::PathBuf>,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            level: "info".into(),
            audit_file: None,
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        tracing_subscriber::EnvFilter::try_new(&self.level)
            .map(drop)
            .map_err(|e| InvalidSetting::new("log.level", e))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Keep Prometheus metrics and serve them at `/metrics`. Off: `/metrics` is 404
    /// and nothing is recorded (the benchmarks' baseline).
    pub enabled: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}
