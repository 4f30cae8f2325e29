//! Tracing setup: `RUST_LOG` filtering (default `info`), text, JSON or short lines on stderr.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// A subscriber writing `format` lines to `writer`, filtered by `filter`.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(builder.json().finish()),
        LogFormat::Short => Box::new(builder.event_format(canopy_telemetry::ShortFormat).finish()),
    }
}

/// Installs the global subscriber (stderr, `RUST_LOG` or `info`); a second call is ignored.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Already installed (e.g. by a test in this process): keep the first one.
    drop(subscriber(format, filter, std::io::stderr).try_init());
}
