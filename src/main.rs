use clap::Parser;

/// mimalloc instead of glibc's malloc: an evaluation run allocates and frees millions of small
/// strings and vectors across threads, and a profile of `pesync bench evaluate` had about 30 % of
/// pesync's CPU in glibc's allocator (`_int_malloc`, `_int_free`, `malloc_consolidate`). Built
/// without transparent huge pages (Cargo.toml: `no_thp`): with them, the ingest benchmark's service
/// peaked at 130–145 MiB instead of 85 (docs/BENCHMARKS.md, "Peak memory").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = pesync::cli::Cli::parse();
    pesync::platform::telemetry::init(cli.log_filter());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the tokio runtime");
    let result = runtime.block_on(pesync::cli::run(cli));
    // Tasks still running (a job abandoned at shutdown) are dropped here; bounded, so a stuck
    // blocking task cannot hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
