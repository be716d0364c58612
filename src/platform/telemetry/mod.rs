//! Logging to stderr: human-readable (coloured only on a terminal), or JSON lines with
//! `PESYNC_LOG_FORMAT=json`; `RUST_LOG` filters (default `info`, [`QUIET`] for benchmarks).

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

/// The default filter of the service and the other commands.
pub const DEFAULT: &str = "info";
/// The default filter of a benchmark, whose output is its figures: warnings of real problems
/// only. sqlx's slow-statement warnings (target `sqlx::query`, with the whole SQL text) are left
/// out: a benchmark's own seeding and bulk statements are slow by design; so are the start-up
/// notes of the in-process service about what a benchmark leaves unconfigured (no PE, no Genesys).
pub const QUIET: &str = "warn,sqlx::query=error,pesync::app::startup=error";

/// Installs the subscriber; `default` applies when `RUST_LOG` is not set.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = std::env::var("PESYNC_LOG_FORMAT").is_ok_and(|v| v == "json");
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    );
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // `try_init`: tests may initialise more than once.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Whether log lines carry ANSI colour codes: only on a terminal (in a file or a pipe they are
/// noise that breaks `grep` and log collectors), and never when `NO_COLOR` is set and not empty
/// (no-color.org).
pub fn colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        assert!(colour(true, None));
        assert!(colour(true, Some("")), "an empty NO_COLOR does not count");
        assert!(!colour(true, Some("1")));
        assert!(!colour(false, None), "a file or a pipe");
        assert!(!colour(false, Some("1")));
    }
}
