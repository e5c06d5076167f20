//! The one diagnostic channel: `tracing`. Every layer emits events
//! (`tracing::info!`, `warn!`); this module installs the subscriber that prints
//! them to stderr, one line each, as `vnvme: MESSAGE`, and the per-command trace
//! events (target `vnvme::trace`) as `vnvme-trace: LINE`.
//!
//! The filter: `RUST_LOG` when set (the usual `tracing_subscriber` directives,
//! e.g. `RUST_LOG=vnvme=debug,vnvme::trace=info`); otherwise vnvme's events at
//! info, only warnings and errors with `--quiet`, and the trace target only with
//! `--trace-stderr`.

use std::fmt;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// The target of the per-command trace events (one per completed command).
pub const TRACE_TARGET: &str = crate::control::TRACE_TARGET;

/// What a subcommand wants printed when `RUST_LOG` is not set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verbosity {
    /// vnvme's own diagnostics at info; warnings and errors are always printed.
    pub diagnostics: bool,
    /// The per-command trace events (`serve --trace-stderr`).
    pub trace: bool,
}

/// The filter directives for `v` (used when `RUST_LOG` is unset).
pub fn directives(v: Verbosity) -> String {
    format!(
        "{},{TRACE_TARGET}={}",
        if v.diagnostics { "vnvme=info" } else { "vnvme=warn" },
        if v.trace { "info" } else { "off" }
    )
}

/// Install the stderr subscriber (once per process; later calls do nothing).
pub fn init(v: Verbosity) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(s) if !s.is_empty() => EnvFilter::new(s),
        _ => EnvFilter::new(directives(v)),
    };
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).event_format(Lines).try_init();
}

/// One line per event: a prefix by target, then the message and any fields.
struct Lines;

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let prefix = if event.metadata().target().starts_with(TRACE_TARGET) { "vnvme-trace: " } else { "vnvme: " };
        w.write_str(prefix)?;
        ctx.field_format().format_fields(w.by_ref(), event)?;
        writeln!(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_follow_quiet_and_trace() {
        assert_eq!(directives(Verbosity { diagnostics: true, trace: false }), "vnvme=info,vnvme::trace=off");
        assert_eq!(directives(Verbosity { diagnostics: false, trace: true }), "vnvme=warn,vnvme::trace=info");
        for v in [true, false] {
            for t in [true, false] {
                EnvFilter::try_new(directives(Verbosity { diagnostics: v, trace: t })).expect("valid directives");
            }
        }
    }
}
