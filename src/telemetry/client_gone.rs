//! rmcp logs an ERROR ("failed to send pending response during drain", "fail to
//! response message", ...) with `error = channel closed` whenever a client goes
//! away before its answer is written: an HTTP client that gave up, an SSE stream
//! the client closed. Nothing went wrong on our side, and under load these lines
//! would bury real errors. This filter drops exactly those events: rmcp's, at
//! ERROR, whose `error` field says the channel to the client is closed. Every
//! other rmcp warning and error still reaches the log.

use std::fmt;

use tracing::{
    Event, Level, Metadata,
    field::{Field, Visit},
};
use tracing_subscriber::layer::{Context, Filter};

/// The message rmcp's transport errors display when the client's side is gone.
const CLIENT_GONE: &str = "channel closed";

pub struct ClientGone;

impl ClientGone {
    fn is_rmcp_error(meta: &Metadata<'_>) -> bool {
        *meta.level() == Level::ERROR && meta.target().starts_with("rmcp::")
    }
}

impl<S> Filter<S> for ClientGone {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        if !Self::is_rmcp_error(event.metadata()) {
            return true;
        }
        let mut error = ErrorField(false);
        event.record(&mut error);
        !error.0
    }
}

/// Whether an event's `error` field is [`CLIENT_GONE`].
struct ErrorField(bool);

impl Visit for ErrorField {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "error" {
            // rmcp records it with `%`, so Debug shows the Display text.
            self.0 = format!("{value:?}") == CLIENT_GONE;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::{Layer as _, fmt::MakeWriter, prelude::*};

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    #[test]
    fn drops_only_rmcp_errors_that_say_the_client_is_gone() {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .with_writer(lines.clone())
                .with_ansi(false)
                .with_filter(ClientGone),
        );
        tracing::subscriber::with_default(subscriber, || {
            let gone = "channel closed";
            tracing::error!(target: "rmcp::service", error = %gone, "failed to send pending response during drain");
            tracing::error!(target: "rmcp::service", error = %"broken pipe", "fail to response message");
            tracing::warn!(target: "rmcp::service", error = %gone, "a warning stays");
            tracing::error!(target: "box_mcp::server", error = %gone, "ours stays");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("during drain"), "{text}");
        assert!(text.contains("fail to response message"), "{text}");
        assert!(text.contains("a warning stays"), "{text}");
        assert!(text.contains("ours stays"), "{text}");
    }
}
