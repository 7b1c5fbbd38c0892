//! Structured logs. JSON by default, one object per line; the request span
//! (request id, method, path, subject) is attached to every event of a request.

use std::{fs::OpenOptions, sync::Mutex};

use anyhow::Context;
use tracing_subscriber::{EnvFilter, filter::filter_fn, fmt, prelude::*};

use crate::audit;

mod config;
pub mod otlp;
mod request_id;

pub use config::{LogConfig, LogFormat, MetricsConfig};
pub use request_id::RequestId;

/// Where log lines go: stdout for the HTTP server, stderr over stdio (where stdout
/// carries the protocol).
#[derive(Debug, Clone, Copy)]
pub enum LogTarget {
    Stdout,
    Stderr,
}

pub fn init(
    config: &LogConfig,
    trace: &otlp::TraceConfig,
    target: LogTarget,
) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // rmcp logs whole JSON-RPC messages at DEBUG (tool arguments and results,
        // which can hold secrets or personal data), and at INFO three lines per
        // stateless request, one a dump of the client's details. Only its warnings
        // and errors, whatever the configured level says: box-mcp's own access line
        // and audit event say what happened.
        .add_directive(
            "rmcp::service=warn"
                .parse()
                .expect("a constant, valid directive"),
        );
    let writer = match target {
        LogTarget::Stdout => fmt::writer::BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    // With an audit file, audit events go there only; otherwise into the main log.
    let audit_file = match &config.audit_file {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log.audit_file {}", path.display()))?,
        ),
        None => None,
    };
    let separate_audit = audit_file.is_some();
    let not_audit = filter_fn(move |meta| !separate_audit || meta.target() != audit::TARGET);
    let audit_layer = audit_file.map(|file| {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(Mutex::new(file))
            .with_filter(filter_fn(|meta| meta.target() == audit::TARGET))
    });
    let traces = otlp::provider(trace)
        .context("cannot set up the OTLP trace export (trace.otlp_endpoint)")?
        .map(otlp::layer);
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(audit_layer)
        .with(traces);
    let result = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_writer(writer)
                    .with_filter(not_audit),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(writer).with_filter(not_audit))
            .try_init(),
    };
    // A second init (tests, benches) keeps the first subscriber.
    let _ = result;
    Ok(())
}
