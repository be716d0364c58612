//! CSV rows into records: a header names the columns, and the row shape of the export's kind
//! (`Shape`) turns each row into JSON. For events, `contact_id`, `event_type` and
//! `event_timestamp` form the envelope and every other column is an attribute (SPEC §2); score rows
//! are in `score_rows`.
//!
//! Line numbers are computed here rather than taken from the `csv` crate, whose record positions
//! are one line early for CRLF files and for a row after a blank line.

use std::io::{self, BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::score_rows::ScoreColumns;
use super::{ENVELOPE_COLUMNS, Kind, Limits, ReadError, Record, Skipped};

pub(super) struct CsvRecords<R> {
    reader: csv::Reader<CsvInput<R>>,
    shape: Shape,
    record: csv::ByteRecord,
    max_record: u64,
}

/// How a row becomes the JSON sent, by the export's kind (read from the header).
#[derive(Debug)]
enum Shape {
    Event(Columns),
    Score(ScoreColumns),
}

impl Shape {
    fn from_header(kind: Kind, header: &csv::StringRecord) -> Result<Self, ReadError> {
        let names = column_names(header)?;
        Ok(match kind {
            Kind::Events => Self::Event(Columns::from_names(names)?),
            Kind::Scores => Self::Score(ScoreColumns::from_names(&names)?),
        })
    }

    fn record(&self, row: &csv::ByteRecord) -> Result<Value, String> {
        match self {
            Self::Event(c) => c.event(row),
            Self::Score(c) => c.observation(row),
        }
    }
}

/// The header's column names, trimmed: each named, none twice.
fn column_names(header: &csv::StringRecord) -> Result<Vec<String>, ReadError> {
    let names: Vec<String> = header.iter().map(|n| n.trim().to_owned()).collect();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(ReadError::Header(format!(
                "has no name for column {}",
                i + 1
            )));
        }
        if names[..i].contains(name) {
            return Err(ReadError::Header(format!("names column {name:?} twice")));
        }
    }
    Ok(names)
}

/// A cell's text: every field of a row must be UTF-8 (`i` counts from 0).
pub(super) fn cell_text(cell: &[u8], i: usize) -> Result<&str, String> {
    std::str::from_utf8(cell).map_err(|_| format!("field {} is not valid UTF-8", i + 1))
}

impl<R: Read> CsvRecords<R> {
    pub(super) fn new(input: R, kind: Kind, limits: Limits) -> Result<Self, ReadError> {
        // An unbalanced quote would make the rest of the file one record: cap what a record may
        // read so memory stays bounded and the error names the line where it began.
        let max_record = limits.max_bytes as u64 + 64 * 1024;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            // CRLF is turned into LF by `CsvInput`, so `\n` alone ends a record.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(CsvInput {
                inner: BufReader::new(input),
                budget: max_record,
                cr: false,
                eof: false,
            });
        let header = reader.headers().map_err(|e| csv_error(&e, 1))?;
        let shape = Shape::from_header(kind, header)?;
        Ok(Self {
            reader,
            shape,
            record: csv::ByteRecord::new(),
            max_record,
        })
    }

    /// The line a record read just now began on: the reader's line after it, less the newlines
    /// inside its fields, less its own terminating newline (absent only at the end of the input).
    fn start_line(&self) -> u64 {
        let after = self.reader.position().line();
        let inner: usize = self
            .record
            .iter()
            .map(|f| f.iter().filter(|b| **b == b'\n').count())
            .sum();
        let terminated = u64::from(!self.reader.get_ref().eof);
        after.saturating_sub(inner as u64 + terminated)
    }
}

impl<R: Read> Iterator for CsvRecords<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.reader.get_mut().budget = self.max_record;
        // Where the record begins, unless blank lines come first: for errors without a position.
        let line_before = self.reader.position().line();
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.start_line();
                Some(Ok(match self.shape.record(&self.record) {
                    Ok(record) => Record::Ready {
                        line,
                        json: serde_json::to_vec(&record)
                            .expect("a JSON value (string keys, finite numbers) always serializes"),
                    },
                    Err(reason) => Record::Skip(Skipped { line, reason }),
                }))
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => Some(Ok(Record::Skip(Skipped {
                    line: self.start_line(),
                    reason: format!("the row has {len} fields; the header has {expected_len}"),
                }))),
                _ => Some(Err(csv_error(&e, line_before))),
            },
        }
    }
}

fn csv_error(e: &csv::Error, line: u64) -> ReadError {
    let line = e.position().map_or(line, csv::Position::line);
    let message = match e.kind() {
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::FileTooLarge => {
            "a CSV record is longer than a whole request may be; is a quote left open?".to_owned()
        }
        _ => e.to_string(),
    };
    ReadError::Csv { line, message }
}

/// Where the envelope columns are, and every column's name.
#[derive(Debug)]
struct Columns {
    names: Vec<String>,
    /// `contact_id`, `event_type`, `event_timestamp`, by column index.
    envelope: [usize; 3],
}

impl Columns {
    fn from_names(names: Vec<String>) -> Result<Self, ReadError> {
        let mut envelope = [0; 3];
        for (slot, wanted) in envelope.iter_mut().zip(ENVELOPE_COLUMNS) {
            *slot = names.iter().position(|n| n == wanted).ok_or_else(|| {
                ReadError::Header(format!(
                    "has no {wanted:?} column (the header must name {})",
                    ENVELOPE_COLUMNS.join(", ")
                ))
            })?;
        }
        Ok(Self { names, envelope })
    }

    /// The event a row stands for: the envelope columns at the top level, every other column an
    /// attribute, as a string (the manifest's lossless coercion turns `"2450.00"` into a number).
    /// An empty cell is left out, so a missing value is "absent", never `""`.
    fn event(&self, row: &csv::ByteRecord) -> Result<Value, String> {
        let mut event = Map::new();
        let mut attributes = Map::new();
        for (i, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let value = Value::String(cell_text(cell, i)?.to_owned());
            match self.envelope.iter().position(|e| *e == i) {
                Some(e) => event.insert(ENVELOPE_COLUMNS[e].to_owned(), value),
                None => attributes.insert(self.names[i].clone(), value),
            };
        }
        event.insert("attributes".to_owned(), Value::Object(attributes));
        Ok(Value::Object(event))
    }
}

/// What the CSV parser reads from: CRLF turned into LF, a cap on the bytes one record may read,
/// and whether the input has ended.
struct CsvInput<R> {
    inner: BufReader<R>,
    /// Bytes the current record may still read (reset before each record).
    budget: u64,
    /// A `\r` held back until we know whether `\n` follows.
    cr: bool,
    eof: bool,
}

impl<R: Read> Read for CsvInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.budget == 0 {
            return Err(io::Error::from(io::ErrorKind::FileTooLarge));
        }
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            self.eof = true;
            if std::mem::take(&mut self.cr) {
                buf[0] = b'\r';
                return Ok(1);
            }
            return Ok(0);
        }
        let mut out = 0;
        if std::mem::take(&mut self.cr) && available[0] != b'\n' {
            buf[0] = b'\r';
            out = 1;
        }
        let mut used = 0;
        while used < available.len() && out < buf.len() {
            let b = available[used];
            used += 1;
            if b == b'\r' {
                match available.get(used) {
                    Some(b'\n') => continue,
                    Some(_) => {}
                    None => {
                        self.cr = true;
                        break;
                    }
                }
            }
            buf[out] = b;
            out += 1;
        }
        self.inner.consume(used);
        self.budget = self.budget.saturating_sub(used as u64);
        if out == 0 {
            // Only a held-back `\r` so far: look further rather than signal the end.
            return self.read(buf);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything through `CsvInput`, `chunk` bytes at a time.
    fn through(input: &[u8], chunk: usize, inner_buffer: usize) -> Vec<u8> {
        let mut r = CsvInput {
            inner: BufReader::with_capacity(inner_buffer, input),
            budget: u64::MAX,
            cr: false,
            eof: false,
        };
        let mut out = vec![];
        let mut buf = vec![0; chunk];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_becomes_lf_across_read_boundaries() {
        let input = b"a\r\nb\rc\r\r\n\r";
        for chunk in 1..8 {
            for inner in 1..8 {
                assert_eq!(
                    through(input, chunk, inner),
                    b"a\nb\rc\r\n\r",
                    "chunk {chunk}, buffer {inner}"
                );
            }
        }
    }
}
