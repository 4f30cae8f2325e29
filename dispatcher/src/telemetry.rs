//! Tracing setup: `RUST_LOG`-style filtering, text or JSON output.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(format: &str) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Already installed (e.g. by another test in this process): keep the first one.
    drop(result);
}
