//! Structured logs. JSON by default, one object per line; the request span
//! (request id, method, path, subject) is attached to every event of a request.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

/// Where log lines go: stdout for the HTTP server, stderr over stdio (where stdout
/// carries the protocol).
#[derive(Debug, Clone, Copy)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

pub fn init(config: &LogConfig, target: LogTarget) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let writer = match target {
        LogTarget::Stdout => fmt::writer::BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer),
            )
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer().with_writer(writer)).try_init(),
    };
    // A second init (tests, benches) keeps the first subscriber.
    let _ = result;
}
