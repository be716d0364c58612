//! Rows for `COPY … FROM STDIN (FORMAT binary)`, encoded and sent with sqlx's `copy_in_raw` a
//! chunk at a time ([`copy_in`]). Bulk writes of the evaluation run go through it: PostgreSQL takes
//! binary COPY rows with far less work per row than an `INSERT … SELECT FROM UNNEST` of the same
//! columns (no array parameters to take apart, no text to parse), which made it the cheapest way
//! in (issue 12).
//!
//! Only the types pesync writes this way are here; each is encoded as PostgreSQL's binary send
//! function does (`src/backend/utils/adt/*.c`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01T00:00:00Z.
pub(super) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// What a binary COPY stream starts with: the signature, no flags, no header extension.
const HEADER: &[u8; 19] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// What ends it: a field count of -1.
const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// Binary COPY rows being encoded: the header, then rows; [`copy_in`] sends them and the trailer.
#[derive(Debug)]
pub struct BinaryCopy {
    buf: Vec<u8>,
}

/// `copy_out`'s tests build rows to read back with it.
#[cfg(test)]
impl Default for BinaryCopy {
    fn default() -> Self {
        Self::with_capacity(64 * 1024)
    }
}

impl BinaryCopy {
    /// An empty COPY whose buffer holds `bytes` before it grows.
    fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes);
        buf.extend_from_slice(HEADER);
        Self { buf }
    }

    /// Starts a row of `fields` fields; exactly that many values must follow.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(&len(bytes.len()).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn text(&mut self, v: &str) -> &mut Self {
        self.field(v.as_bytes())
    }

    pub fn opt_text(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    /// The run writes no integer column; `copy_out`'s tests read these back.
    #[cfg(test)]
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.field(&v.to_be_bytes())
    }

    pub fn opt_f64(&mut self, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.field(&v.to_be_bytes()),
            None => self.null(),
        }
    }

    /// `jsonb`: a version byte (1), then the document as JSON text, serialized in place.
    pub fn jsonb<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> &mut Self {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        self.buf.push(1);
        serde_json::to_writer(&mut self.buf, v).expect("a document of ours serializes");
        let size = len(self.buf.len() - at - 4);
        self.buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
        self
    }

    pub fn timestamptz(&mut self, v: DateTime<Utc>) -> &mut Self {
        self.field(&micros(v).to_be_bytes())
    }

    /// A whole row encoded before ([`EncodedRows`]), in place of [`Self::row`] and its fields.
    pub fn encoded(&mut self, row: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(row);
        self
    }

    /// The whole stream: header, rows and trailer (`copy_out`'s tests read it back).
    #[cfg(test)]
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&TRAILER);
        self.buf
    }
}

/// Rows encoded for a COPY ahead of it, as they are produced, each kept apart so that some can be
/// left out when they are sent ([`copy_in_encoded`] sends them all, [`copy_in`] those kept).
///
/// Why: the evaluation run decides a batch on one thread and writes it on another. Held as
/// structs, each decision row was three strings allocated where it was decided and freed where it
/// was written (three million allocations a million-contact run) and its texts were copied once
/// more into the COPY; held encoded, a batch's rows are a few buffers. They are chunks of about
/// [`ROWS_CHUNK`] bytes, not one buffer grown to the batch's megabytes: growing by doubling copied
/// the rows once more, and the peak RSS of a million-contact run rose from 64–73 MiB to 90–105.
#[derive(Debug, Default)]
pub struct EncodedRows {
    /// Whole rows; a row is never split between two chunks.
    chunks: Vec<Vec<u8>>,
    /// Each row's chunk, and where the row ends in it.
    ends: Vec<(usize, usize)>,
}

/// About how many bytes of rows an [`EncodedRows`] chunk holds.
const ROWS_CHUNK: usize = 64 * 1024;

impl EncodedRows {
    /// Adds the row `encode` writes (exactly one [`BinaryCopy::row`] and its fields).
    pub fn push(&mut self, encode: impl FnOnce(&mut BinaryCopy)) {
        if self.chunks.last().is_none_or(|c| c.len() >= ROWS_CHUNK) {
            // Room for a row of up to a quarter chunk past the mark without growing.
            self.chunks
                .push(Vec::with_capacity(ROWS_CHUNK + ROWS_CHUNK / 4));
        }
        let chunk = self.chunks.len() - 1;
        let mut copy = BinaryCopy {
            buf: std::mem::take(&mut self.chunks[chunk]),
        };
        encode(&mut copy);
        self.ends.push((chunk, copy.buf.len()));
        self.chunks[chunk] = copy.buf;
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The rows, each as encoded, in the order pushed.
    pub fn rows(&self) -> impl Iterator<Item = &[u8]> {
        let mut previous = (0, 0);
        self.ends.iter().map(move |&(chunk, end)| {
            let start = if chunk == previous.0 { previous.1 } else { 0 };
            previous = (chunk, end);
            &self.chunks[chunk][start..end]
        })
    }
}

/// How many bytes of rows [`copy_in`] encodes before it sends them.
///
/// The whole COPY of a batch in one buffer held every byte twice more than the rows themselves: in
/// pesync's buffer, and in the connection's write buffer, which sqlx grows to the largest message
/// sent and never shrinks, so every connection of the pool kept a batch's worth for good. Sent in
/// chunks, both stay this size whatever the batch, and PostgreSQL starts storing rows while the
/// rest are encoded.
const CHUNK: usize = 128 * 1024;

/// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`) with one row per item of `rows`,
/// which `encode` writes (exactly one [`BinaryCopy::row`] and its fields each), sent in chunks of
/// about [`CHUNK`] bytes. Returns how many rows PostgreSQL stored; without rows it sends nothing.
pub async fn copy_in<T>(
    conn: &mut PgConnection,
    statement: &str,
    rows: impl IntoIterator<Item = T>,
    mut encode: impl FnMut(&mut BinaryCopy, T),
) -> sqlx::Result<u64> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(0);
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    // A row rarely passes a few kilobytes: the buffer does not grow past this.
    let mut c = BinaryCopy::with_capacity(CHUNK + CHUNK / 2);
    for row in rows {
        encode(&mut c, row);
        if c.buf.len() >= CHUNK {
            copy.send(c.buf.as_slice()).await?;
            c.buf.clear();
        }
    }
    c.buf.extend_from_slice(&TRAILER);
    copy.send(c.buf.as_slice()).await?;
    copy.finish().await
}

/// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`) with every row of `rows`, its chunks
/// sent as they were encoded, with no second copy of their bytes. (To leave some rows out, give
/// the kept ones to [`copy_in`] with [`BinaryCopy::encoded`].) Returns how many rows PostgreSQL
/// stored; without rows it sends nothing.
pub async fn copy_in_encoded(
    conn: &mut PgConnection,
    statement: &str,
    rows: &EncodedRows,
) -> sqlx::Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(&HEADER[..]).await?;
    for chunk in &rows.chunks {
        copy.send(chunk.as_slice()).await?;
    }
    copy.send(&TRAILER[..]).await?;
    copy.finish().await
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros() - PG_EPOCH_MICROS
}

/// A field's length on the wire. A batch's fields are far below 2 GiB; past that PostgreSQL would
/// refuse the row anyway.
fn len(n: usize) -> i32 {
    i32::try_from(n).expect("a COPY field under 2 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let t: DateTime<Utc> = "2000-01-01T00:00:01Z".parse().unwrap();
        assert_eq!(micros(t), 1_000_000);
    }

    #[test]
    fn encoded_rows_come_back_whole_and_in_order() {
        let mut rows = EncodedRows::default();
        assert!(rows.is_empty() && rows.rows().next().is_none());
        rows.push(|c| {
            c.row(1).text("a");
        });
        rows.push(|c| {
            c.row(2).text("bc").opt_text(None);
        });
        let got: Vec<&[u8]> = rows.rows().collect();
        let mut one = BinaryCopy { buf: Vec::new() };
        one.row(1).text("a");
        let mut two = BinaryCopy { buf: Vec::new() };
        two.row(2).text("bc").opt_text(None);
        assert_eq!(got, [one.buf.as_slice(), two.buf.as_slice()]);
        assert_eq!(rows.len(), 2);
        // Sent as they were encoded: the same bytes as encoding them in the COPY itself.
        let mut sent = BinaryCopy::default();
        for row in rows.rows() {
            sent.encoded(row);
        }
        let mut direct = BinaryCopy::default();
        direct.row(1).text("a").row(2).text("bc").opt_text(None);
        assert_eq!(sent.into_bytes(), direct.into_bytes());
    }

    #[test]
    fn rows_across_chunks_come_back_whole_and_in_order() {
        let mut rows = EncodedRows::default();
        let texts: Vec<String> = (0..2_000).map(|i| "x".repeat(i % 600)).collect();
        for t in &texts {
            rows.push(|c| {
                c.row(1).text(t);
            });
        }
        assert!(rows.chunks.len() > 5, "{} chunks", rows.chunks.len());
        assert_eq!(rows.len(), texts.len());
        for (row, t) in rows.rows().zip(&texts) {
            let mut one = BinaryCopy { buf: Vec::new() };
            one.row(1).text(t);
            assert_eq!(row, one.buf.as_slice());
        }
        assert_eq!(rows.rows().count(), texts.len());
    }

    #[test]
    fn jsonb_is_a_version_byte_and_the_text() {
        let mut c = BinaryCopy::default();
        let header = c.buf.len();
        c.row(1).jsonb(&serde_json::json!({"a": 1}));
        let field = &c.buf[header + 2..];
        assert_eq!(i32::from_be_bytes(field[..4].try_into().unwrap()), 8);
        assert_eq!(&field[4..], b"\x01{\"a\":1}");
    }
}
