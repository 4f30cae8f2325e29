//! Tracing setup: `RUST_LOG`-style filtering; `text` (with each line's span chain), `json`, or
//! `short` (one line per request and per event, no spans: `./scripts/dev`'s default).

pub mod access;
pub mod root_span;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset. Only `short` shows the per-request access lines by
/// default (`text` and `json` show them when `RUST_LOG` asks for INFO); it drops the request
/// span's own warning about a 4xx, which the access line already names with its problem code
/// (a 500's cause is logged where it is handled).
fn default_filter(format: &str) -> EnvFilter {
    let base = "info,sqlx=warn,actix_server=warn";
    match format {
        "short" => EnvFilter::new(format!("{base},tracing_actix_web=off")),
        _ => EnvFilter::new(format!("{base},{}=warn", access::TARGET)),
    }
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter(format));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match format {
        "json" => builder.json().try_init(),
        "short" => builder
            .event_format(canopy_telemetry::ShortFormat)
            .try_init(),
        _ => builder.try_init(),
    };
    // Already installed (e.g. by another test in this process): keep the first one.
    drop(result);
}
