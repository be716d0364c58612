use clap::Parser;

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
