//! Structured logs. JSON by default, one object per line; the request span
//! (request id, client, method, path, subject) is attached to every event of a
//! request but audit events, which carry those fields themselves. At `info` a
//! request writes its access line (`box_mcp::access`) and the audit event of its
//! decision, if it made one.

use std::{fs::OpenOptions, sync::Mutex};

use anyhow::Context;
use tracing_subscriber::{
    EnvFilter,
    filter::{FilterExt as _, filter_fn},
    fmt,
    prelude::*,
};

use crate::audit;

mod client_gone;
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
    let writer = || match target {
        LogTarget::Stdout => fmt::writer::BoxMakeWriter::new(std::io::stdout),
        LogTarget::Stderr => fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
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
    // Audit events go to the audit file, else into the main log. They carry their
    // own request id, client and subject, so they are written without the request
    // span, which would repeat those (each line is written for every request). In
    // the pretty format without an audit file, the pretty layer writes them.
    let audit_writer = match audit_file {
        Some(file) => Some(fmt::writer::BoxMakeWriter::new(Mutex::new(file))),
        None if config.format == LogFormat::Json => Some(writer()),
        None => None,
    };
    let audit_apart = audit_writer.is_some();
    let audit_layer = audit_writer.map(|writer| {
        fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter_fn(|meta| meta.target() == audit::TARGET))
    });
    let main_log = filter_fn(move |meta| !audit_apart || meta.target() != audit::TARGET)
        .and(client_gone::ClientGone);
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
                    .with_writer(writer())
                    .with_filter(main_log),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(writer()).with_filter(main_log))
            .try_init(),
    };
    // A second init (tests, benches) keeps the first subscriber.
    let _ = result;
    Ok(())
}
