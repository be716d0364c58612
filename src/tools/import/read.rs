//! Reads an export file into request bodies: CSV or NDJSON in, NDJSON batches out. Pure over any
//! `Read` (no HTTP, no clock), one record at a time, so a file of any size is read in constant memory.
//!
//! A record is an event (`Kind::Events`, SPEC §2) or a score observation (`Kind::Scores`, issue 10
//! §4); only the shape of a CSV row differs (`csv_rows` for events, `score_rows` for scores), the
//! batching and the line accounting are the same.
//!
//! A batch never holds more than `Limits::max_events` records nor more than `Limits::max_bytes` of
//! body, the API's limits. An input record that cannot be sent (a CSV row with the wrong number of
//! fields, invalid UTF-8 or a score that is not a number, a line larger than a whole request) is
//! reported as `Skipped` with its line number, and reading goes on.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The envelope columns of a CSV export (SPEC §2); every other column is an attribute.
pub const ENVELOPE_COLUMNS: [&str; 3] = ["contact_id", "event_type", "event_timestamp"];

/// What the records of an export are, and so where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Events of a source: `POST /v1/sources/{source}/events`.
    Events,
    /// Score observations: `POST /v1/scores`.
    Scores,
}

impl Kind {
    /// What one record is called in messages, plural.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Events => "events",
            Self::Scores => "observations",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON event per line (newline-delimited JSON).
    Ndjson,
}

impl Format {
    /// The format a file name implies: `.csv`, or `.ndjson` / `.jsonl`.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_events: usize,
    pub max_bytes: usize,
}

/// One request body (NDJSON, one event per line) and the input line each event came from.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    pub body: Vec<u8>,
    pub lines: Vec<u64>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// An input record that was not sent, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Batch(Batch),
    Skipped(Skipped),
}

/// Errors that stop the import: the input cannot be read on, or has no usable header.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading the input: {0}")]
    Io(#[from] io::Error),
    #[error("the CSV header row {0}")]
    Header(String),
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
}

/// Splits `input` into batches and skipped records. The CSV header is read (and checked) here, so a
/// file without the columns `kind` needs is refused before anything is sent.
pub fn chunks(
    format: Format,
    kind: Kind,
    input: impl Read + Send + 'static,
    limits: Limits,
) -> Result<Box<dyn Iterator<Item = Result<Chunk, ReadError>> + Send>, ReadError> {
    Ok(match format {
        Format::Csv => Box::new(Batches::new(
            csv_rows::CsvRecords::new(input, kind, limits)?,
            limits,
        )),
        Format::Ndjson => Box::new(Batches::new(NdjsonRecords::new(input, limits), limits)),
    })
}

/// One input record: an event or observation ready to send (compact JSON), or a skipped one.
#[derive(Debug)]
pub(super) enum Record {
    Ready { line: u64, json: Vec<u8> },
    Skip(Skipped),
}

/// Packs records into batches under both limits; skipped records pass straight through.
struct Batches<I> {
    records: I,
    limits: Limits,
    batch: Batch,
    /// A record that did not fit in the batch just handed out.
    pending: Option<(u64, Vec<u8>)>,
}

impl<I> Batches<I> {
    fn new(records: I, limits: Limits) -> Self {
        Self {
            records,
            limits,
            batch: Batch::default(),
            pending: None,
        }
    }

    fn flush(&mut self) -> Option<Result<Chunk, ReadError>> {
        (!self.batch.is_empty()).then(|| Ok(Chunk::Batch(std::mem::take(&mut self.batch))))
    }
}

impl<I: Iterator<Item = Result<Record, ReadError>>> Iterator for Batches<I> {
    type Item = Result<Chunk, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line, json) = match self.pending.take() {
                Some(p) => p,
                None => match self.records.next() {
                    None => return self.flush(),
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok(Record::Skip(s))) => return Some(Ok(Chunk::Skipped(s))),
                    Some(Ok(Record::Ready { line, json })) => (line, json),
                },
            };
            if json.len() + 1 > self.limits.max_bytes {
                return Some(Ok(Chunk::Skipped(too_large(line, self.limits))));
            }
            if self.batch.body.len() + json.len() + 1 > self.limits.max_bytes {
                self.pending = Some((line, json));
                return self.flush();
            }
            self.batch.body.extend_from_slice(&json);
            self.batch.body.push(b'\n');
            self.batch.lines.push(line);
            if self.batch.len() >= self.limits.max_events {
                return self.flush();
            }
        }
    }
}

pub(super) fn too_large(line: u64, limits: Limits) -> Skipped {
    Skipped {
        line,
        reason: format!(
            "the record is larger than a whole request may be ({} bytes)",
            limits.max_bytes
        ),
    }
}

/// NDJSON lines, sent as they are: the server quarantines a line that is not JSON (`malformed`,
/// with its raw text), which keeps it visible to the operator. Blank lines are skipped, as the
/// server would (SPEC §11.5).
struct NdjsonRecords<R> {
    reader: BufReader<R>,
    line: u64,
    limits: Limits,
}

impl<R: Read> NdjsonRecords<R> {
    fn new(input: R, limits: Limits) -> Self {
        Self {
            reader: BufReader::with_capacity(64 * 1024, input),
            line: 0,
            limits,
        }
    }
}

impl<R: Read> Iterator for NdjsonRecords<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut buf = Vec::new();
        loop {
            // A line longer than a request is not kept in memory, only skipped to its end.
            let cap = self.limits.max_bytes;
            let fits = match read_line_capped(&mut self.reader, &mut buf, cap) {
                Ok(None) => return None,
                Ok(Some(fits)) => fits,
                Err(e) => return Some(Err(e.into())),
            };
            self.line += 1;
            if !fits {
                return Some(Ok(Record::Skip(too_large(self.line, self.limits))));
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Ok(Record::Ready {
                line: self.line,
                json: std::mem::take(&mut buf),
            }));
        }
    }
}

/// Reads one line (without its `\n`) into `buf`, keeping at most `cap` bytes of it. `None` at the
/// end of the input; `Some(false)` when the line was longer than `cap` (its rest is consumed).
fn read_line_capped(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    cap: usize,
) -> io::Result<Option<bool>> {
    buf.clear();
    let mut any = false;
    let mut fits = true;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (part, used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        if fits && buf.len() + part.len() <= cap {
            buf.extend_from_slice(part);
        } else {
            fits = false;
            buf.clear();
        }
        reader.consume(used);
        if done {
            return Ok(Some(fits));
        }
    }
}

/// Counts the bytes read through it (for the progress bar).
pub struct Counting<R> {
    pub inner: R,
    pub count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

mod csv_rows;
mod score_rows;
#[cfg(test)]
mod tests;
