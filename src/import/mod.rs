//! `pesync import` (SPEC §1): streams a CSV or NDJSON export file into a source through pesync's own
//! ingestion API, the way any other sender would (signed batches over HTTP).
//!
//! A blocking thread reads the file into batches (`read`, pure) and hands them over a small
//! bounded channel; up to `concurrency` batches are in flight (`send`). The channel and the
//! in-flight limit bound memory whatever the file's size.

pub mod progress;
pub mod read;
pub mod send;
pub mod summary;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::http::limits::MAX_BODY_BYTES;
use crate::ingest::body::MAX_EVENTS;
use progress::Progress;
use read::{Chunk, Format, Limits};
use send::{Backoff, Sender};
pub use summary::Summary;

/// The environment variable holding the source's signing secret.
pub const SECRET_ENV: &str = "PESYNC_SOURCE_SECRET";

/// `pesync import --help` (set on the subcommand in `cli.rs`).
pub const LONG_ABOUT: &str = "Streams a CSV or NDJSON export file into a source: reads it in batches (never whole), signs each batch with the source's secret and posts it to POST /v1/sources/{source}/events, with a progress bar on stderr (plain lines when stderr is not a terminal).\n\n\
CSV: a header row is required. The columns contact_id, event_type and event_timestamp form the event's envelope; every other column becomes an attribute, as a string (the manifest's coercion turns \"2450.00\" into a number where the attribute is one). An empty cell is left out. A row that cannot be read (wrong number of fields, invalid UTF-8) is reported with its line number and not sent.\n\n\
NDJSON: one event per line, sent as it is; blank lines are skipped, a line that is not JSON is quarantined by the server.\n\n\
The signing secret comes from the PESYNC_SOURCE_SECRET environment variable or from --secret-file (which wins), never from the command line, where `ps` would show it.\n\n\
A batch the server could not take (5xx, 429, timeout, connection error) is sent again with exponential backoff; resending is safe, as the server dedups. A refusal (401, 404, 413, 415, 400) stops the import. At the end a summary counts the events per status.\n\n\
Exit status: 0 when every record was stored by the server (accepted, duplicate, quarantined, backfill or reconciliation); 1 when something was not (a malformed row, a failed batch) or the import stopped. Running the same import again is safe.";

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export file, or `-` for standard input.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Base URL of the pesync service.
    #[arg(
        long,
        env = "PESYNC_URL",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub url: String,
    /// The source (as configured with PUT /v1/admin/sources/NAME) the events come from.
    #[arg(long, value_name = "NAME")]
    pub source: String,
    /// A file holding the source's signing secret (a trailing newline is ignored). Without it the
    /// secret is read from PESYNC_SOURCE_SECRET.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// The file's format [default: from the extension: .csv, .ndjson or .jsonl; required for stdin].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Events per request (a batch is also kept under 5 MiB).
    #[arg(long, default_value_t = 500, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=MAX_EVENTS as i64))]
    pub batch_size: u16,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// How many times a batch is sent again after a 5xx or connection error before the import stops.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub retries: u32,
}

/// What an import needs, resolved from the command line (or built by a test).
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub source: String,
    pub secret: SecretString,
    pub format: Format,
    pub batch_size: usize,
    pub concurrency: usize,
    pub backoff: Backoff,
    pub show_progress: bool,
}

impl Options {
    pub fn new(url: &str, source: &str, secret: SecretString, format: Format) -> Self {
        Self {
            url: url.to_owned(),
            source: source.to_owned(),
            secret,
            format,
            batch_size: 500,
            concurrency: 4,
            backoff: Backoff {
                first: Duration::from_millis(250),
                max: Duration::from_secs(30),
                retries: 10,
            },
            show_progress: false,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

/// The `pesync import` command: runs the import, prints the summary, fails unless it is complete.
pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let secret = load_secret(args.secret_file.as_deref(), std::env::var(SECRET_ENV).ok())?;
    let (input, format) = if args.file.as_os_str() == "-" {
        let format = args
            .format
            .context("reading standard input needs --format csv or --format ndjson")?;
        (Input::Stdin, format)
    } else {
        let format = args
            .format
            .or_else(|| Format::from_path(&args.file))
            .with_context(|| {
                format!(
                    "cannot tell the format of {} from its name; pass --format csv or --format ndjson",
                    args.file.display()
                )
            })?;
        (Input::File(args.file.clone()), format)
    };
    let mut options = Options::new(&args.url, &args.source, secret, format);
    options.batch_size = args.batch_size.into();
    options.concurrency = args.concurrency.into();
    options.backoff.retries = args.retries;
    options.show_progress = true;

    let started = Instant::now();
    let summary = import(&options, input).await?;
    println!(
        "{} events answered by {} in {:.1} s:",
        summary.answered(),
        options.url,
        started.elapsed().as_secs_f64()
    );
    print!("{summary}");
    if let Some(why) = &summary.stopped {
        bail!("the import stopped before the end of the input: {why}");
    }
    if !summary.complete() {
        bail!(
            "{} records were not stored ({} malformed, {} failed)",
            summary.malformed + summary.failed,
            summary.malformed,
            summary.failed
        );
    }
    Ok(())
}

/// The secret from `--secret-file` if given, else from the environment; never empty.
pub fn load_secret(file: Option<&Path>, env: Option<String>) -> anyhow::Result<SecretString> {
    let secret = match (file, env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the secret file {}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        (None, Some(value)) => value,
        (None, None) => {
            bail!("no signing secret: set {SECRET_ENV} or pass --secret-file PATH")
        }
    };
    if secret.is_empty() {
        bail!("the signing secret is empty");
    }
    Ok(SecretString::from(secret))
}

/// Outcome of one chunk of the input.
enum Outcome {
    Answered(Vec<u64>, Vec<send::EventResult>),
    Failed(usize, send::SendError),
    Skipped(read::Skipped),
    Unreadable(read::ReadError),
}

/// Streams `input` into the source and sums up the answers. Errors are those that prevent starting
/// (no file, a bad header, a bad URL); anything later ends up in the summary.
pub async fn import(options: &Options, input: Input) -> anyhow::Result<Summary> {
    let (reader, total): (Box<dyn Read + Send>, Option<u64>) = match &input {
        Input::Stdin => (Box::new(std::io::stdin()), None),
        Input::File(path) => {
            let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
            let size = file.metadata().ok().map(|m| m.len());
            (Box::new(file), size)
        }
    };
    let sender = Sender::new(
        &options.url,
        &options.source,
        options.secret.clone(),
        options.backoff,
    )?;
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = read::Counting {
        inner: reader,
        count: bytes.clone(),
    };
    let limits = Limits {
        max_events: options.batch_size.clamp(1, MAX_EVENTS),
        max_bytes: MAX_BODY_BYTES,
    };
    let format = options.format;
    // Reading the header can block (a pipe): off the async threads, like the rest of the reading.
    let chunks = tokio::task::spawn_blocking(move || read::chunks(format, counting, limits))
        .await
        .context("the reading thread failed")??;

    let concurrency = options.concurrency.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel(concurrency);
    let reading = tokio::task::spawn_blocking(move || {
        for chunk in chunks {
            // The receiver is gone once the import stops: stop reading too.
            if tx.blocking_send(chunk).is_err() {
                break;
            }
        }
    });

    let stop = CancellationToken::new();
    let mut progress = Progress::start(options.show_progress, total, bytes);
    let mut summary = Summary::default();
    let sender = &sender;
    let outcomes = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
    .take_until(stop.cancelled())
    .map(|chunk| async move {
        match chunk {
            Ok(Chunk::Batch(b)) => match sender.send(&b.body, b.len()).await {
                Ok(results) => Outcome::Answered(b.lines, results),
                Err(e) => Outcome::Failed(b.len(), e),
            },
            Ok(Chunk::Skipped(s)) => Outcome::Skipped(s),
            Err(e) => Outcome::Unreadable(e),
        }
    })
    // Batches finish in any order; each result names its lines, so the order does not matter.
    .buffer_unordered(concurrency);
    // Boxed, so that dropping it below really drops the receiver and a blocked reader wakes up.
    let mut outcomes = Box::pin(outcomes);
    while let Some(outcome) = outcomes.next().await {
        match outcome {
            Outcome::Answered(lines, results) => summary.add_results(&lines, &results),
            Outcome::Skipped(s) => summary.add_skipped(&s),
            Outcome::Failed(events, e) => {
                summary.add_failed(events, e.to_string());
                stop.cancel();
            }
            Outcome::Unreadable(e) => {
                summary.stop(e.to_string());
                stop.cancel();
            }
        }
        progress.update(&summary);
    }
    drop(outcomes);
    reading.await.context("the reading thread failed")?;
    progress.finish(&summary);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn the_secret_file_wins_and_loses_its_trailing_newline() {
        let path = std::env::temp_dir().join(format!("pesync-secret-{}", uuid::Uuid::new_v4()));
        std::fs::write(&path, "from-file\r\n").unwrap();
        let s = load_secret(Some(&path), Some("from-env".into())).unwrap();
        assert_eq!(s.expose_secret(), "from-file");
        std::fs::remove_file(&path).unwrap();

        let s = load_secret(None, Some("from-env".into())).unwrap();
        assert_eq!(s.expose_secret(), "from-env");
        assert!(load_secret(None, None).is_err());
        assert!(load_secret(None, Some(String::new())).is_err());
        assert!(load_secret(Some(&path), None).is_err(), "a missing file");
    }
}
