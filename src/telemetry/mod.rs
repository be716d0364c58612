//! Logging: human-readable on a terminal, JSON otherwise; `RUST_LOG` filters (default `info`).

use tracing_subscriber::{EnvFilter, fmt};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("PESYNC_LOG_FORMAT").is_ok_and(|v| v == "json");
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // `try_init`: tests may initialise more than once.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub mod counters;
