//! OpenTelemetry traces over OTLP (HTTP, JSON), off unless `trace.otlp_endpoint`
//! is set. The request span (and everything inside it) becomes an OTLP span; a
//! client's W3C `traceparent` header makes it a child of the client's trace, and
//! a `tools/call` whose `_meta` carries `traceparent` (MCP 2026-07-28, SEP-414)
//! gets a span under that context.
//!
//! Spans carry what the logs carry (request id, client address, method, path,
//! subject, tool): never a token or an argument value.

use std::sync::OnceLock;

use opentelemetry::{
    Context,
    propagation::{Extractor, TextMapPropagator},
    trace::TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider},
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::setting::{InvalidSetting, check_http_url, check_transport};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
    /// Empty: no traces are exported.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Share of new traces recorded (a client's sampled flag is followed).
    pub sample_ratio: f64,
}

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: "box-mcp".into(),
            sample_ratio: 1.0,
        }
    }
}

impl TraceConfig {
    pub fn validate(&self, insecure_http: (&'static str, bool)) -> Result<(), InvalidSetting> {
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            return Err(InvalidSetting::new(
                "trace.sample_ratio",
                "must be between 0 and 1",
            ));
        }
        if self.otlp_endpoint.is_empty() {
            return Ok(());
        }
        let url = Url::parse(&self.otlp_endpoint)
            .map_err(|e| InvalidSetting::new("trace.otlp_endpoint", e))?;
        check_http_url(&url, "trace.otlp_endpoint")?;
        check_transport(&url, "trace.otlp_endpoint", insecure_http)
    }
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The tracer provider for `config`, installed for the process; `None` when off.
pub fn provider(config: &TraceConfig) -> anyhow::Result<Option<&'static SdkTracerProvider>> {
    if config.otlp_endpoint.is_empty() {
        return Ok(None);
    }
    if let Some(provider) = PROVIDER.get() {
        return Ok(Some(provider));
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(config.otlp_endpoint.clone())
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            config.sample_ratio,
        ))))
        .with_resource(
            Resource::builder()
                .with_service_name(config.service_name.clone())
                .build(),
        )
        .build();
    Ok(Some(PROVIDER.get_or_init(|| provider)))
}

/// The `tracing` layer that turns spans into OTLP spans.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("box-mcp"))
}

/// Sends what is still buffered (at shutdown).
pub fn flush() {
    if let Some(provider) = PROVIDER.get()
        && let Err(error) = provider.shutdown()
    {
        eprintln!("box-mcp: the last traces were not exported: {error}");
    }
}

/// Whether traces are exported (the request path skips context work otherwise).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Meta<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Meta<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }
    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

/// Makes `span` a child of the W3C trace context in `headers`, if there is one.
pub fn adopt_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if !enabled() || !headers.contains_key("traceparent") {
        return;
    }
    adopt(
        span,
        TraceContextPropagator::new().extract(&Headers(headers)),
    );
}

/// Makes `span` a child of a `_meta` trace context (`traceparent`, `tracestate`).
pub fn adopt_from_meta(span: &tracing::Span, traceparent: &str, tracestate: Option<&str>) {
    if !enabled() {
        return;
    }
    let meta = Meta {
        traceparent,
        tracestate,
    };
    adopt(span, TraceContextPropagator::new().extract(&meta));
}

fn adopt(span: &tracing::Span, context: Context) {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    // A malformed traceparent extracts as an invalid context: start a new trace.
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}
