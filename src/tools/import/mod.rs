//! `pesync import` (SPEC §1): streams a CSV or NDJSON export file into a source through pesync's own
//! ingestion API, the way any other sender would (signed batches over HTTP). With `--scores`, the
//! file is a score export, streamed the same way through `POST /v1/scores` (issue 10 §4).
//!
//! A blocking thread reads the file into batches (`read`, pure) and hands them over a small
//! bounded channel; up to `concurrency` batches are in flight (`send`). The channel and the
//! in-flight limit bound memory whatever the file's size. The command line (arguments, secrets,
//! exit status) is in `command`.

mod answer;
mod command;
pub mod progress;
pub mod read;
pub mod send;
pub mod summary;

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context;
use futures_util::StreamExt;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::ingest::body::MAX_EVENTS;
use crate::platform::http::limits::MAX_BODY_BYTES;
use crate::scoring::push::MAX_SCORES;
pub use command::{ImportArgs, LONG_ABOUT, SECRET_ENV, TOKEN_ENVS, load_secret, load_token, run};
use progress::Progress;
pub use read::Kind;
use read::{Chunk, Format, Limits};
pub use send::Target;
use send::{Backoff, Sender};
pub use summary::Summary;

/// Observations per request by default: a tenth of what the API takes (10,000), so a request is a
/// short transaction (about a second) and a retried one resends little.
pub const DEFAULT_SCORE_BATCH: usize = 1_000;
/// Events per request by default.
pub const DEFAULT_EVENT_BATCH: usize = 500;

/// What an import needs, resolved from the command line (or built by a test).
#[derive(Debug, Clone)]
pub struct Options {
    pub url: String,
    pub target: Target,
    pub format: Format,
    pub batch_size: usize,
    pub concurrency: usize,
    pub backoff: Backoff,
    pub show_progress: bool,
}

impl Options {
    /// Events of `source`, signed with its `secret`.
    pub fn new(url: &str, source: &str, secret: SecretString, format: Format) -> Self {
        Self::to(
            url,
            Target::Events {
                source: source.to_owned(),
                secret,
            },
            format,
        )
    }

    /// Score observations, posted with `token` (the scorer or admin token).
    pub fn scores(url: &str, token: SecretString, format: Format) -> Self {
        Self::to(url, Target::Scores { token }, format)
    }

    fn to(url: &str, target: Target, format: Format) -> Self {
        let batch_size = match target.kind() {
            Kind::Events => DEFAULT_EVENT_BATCH,
            Kind::Scores => DEFAULT_SCORE_BATCH,
        };
        Self {
            url: url.to_owned(),
            target,
            format,
            batch_size,
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

/// The most records one request may carry for this kind (the API's limit).
pub fn max_batch(kind: Kind) -> usize {
    match kind {
        Kind::Events => MAX_EVENTS,
        Kind::Scores => MAX_SCORES,
    }
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
    let kind = options.target.kind();
    let sender = Sender::new(&options.url, options.target.clone(), options.backoff)?;
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = read::Counting {
        inner: reader,
        count: bytes.clone(),
    };
    let limits = Limits {
        max_events: options.batch_size.clamp(1, max_batch(kind)),
        max_bytes: MAX_BODY_BYTES,
    };
    let format = options.format;
    // Reading the header can block (a pipe): off the async threads, like the rest of the reading.
    let chunks = tokio::task::spawn_blocking(move || read::chunks(format, kind, counting, limits))
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
    let mut summary = Summary::new(kind);
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

    #[test]
    fn a_batch_holds_what_one_request_of_its_kind_may_carry() {
        assert_eq!(max_batch(Kind::Events), 1_000);
        assert_eq!(max_batch(Kind::Scores), 10_000);
        let o = Options::scores("http://h", SecretString::from("t"), Format::Csv);
        assert_eq!(o.batch_size, DEFAULT_SCORE_BATCH);
        let o = Options::new("http://h", "crm", SecretString::from("k"), Format::Csv);
        assert_eq!(o.batch_size, DEFAULT_EVENT_BATCH);
    }
}
