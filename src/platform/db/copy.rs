//! Rows for `COPY … FROM STDIN (FORMAT binary)`, encoded in memory and sent with sqlx's
//! `copy_in_raw`. Bulk writes of the evaluation run go through it: PostgreSQL takes binary COPY rows
//! with far less work per row than an `INSERT … SELECT FROM UNNEST` of the same columns (no array
//! parameters to take apart, no text to parse), which made it the cheapest way in (issue 12).
//!
//! Only the types pesync writes this way are here; each is encoded as PostgreSQL's binary send
//! function does (`src/backend/utils/adt/*.c`).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01T00:00:00Z.
pub(super) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A binary COPY stream being built: header, rows, then the trailer in [`BinaryCopy::send`].
#[derive(Debug)]
pub struct BinaryCopy {
    buf: Vec<u8>,
    rows: usize,
}

impl Default for BinaryCopy {
    fn default() -> Self {
        Self::with_capacity(64 * 1024)
    }
}

impl BinaryCopy {
    /// An empty COPY whose buffer holds `bytes` before it grows: a caller that knows about how
    /// much it writes saves growing a megabyte buffer by doubling (each time a copy of it).
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(bytes);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        Self { buf, rows: 0 }
    }

    /// Starts a row of `fields` fields; exactly that many values must follow.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.rows += 1;
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
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

    /// Runs `statement` (a `COPY … FROM STDIN (FORMAT binary)`) with the rows; returns how many
    /// PostgreSQL stored.
    pub async fn send(self, conn: &mut PgConnection, statement: &str) -> sqlx::Result<u64> {
        let mut copy = conn.copy_in_raw(statement).await?;
        copy.send(self.into_bytes()).await?;
        copy.finish().await
    }

    /// The whole stream: header, rows and trailer.
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
        self.buf
    }
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
    fn jsonb_is_a_version_byte_and_the_text() {
        let mut c = BinaryCopy::default();
        let header = c.buf.len();
        c.row(1).jsonb(&serde_json::json!({"a": 1}));
        let field = &c.buf[header + 2..];
        assert_eq!(i32::from_be_bytes(field[..4].try_into().unwrap()), 8);
        assert_eq!(&field[4..], b"\x01{\"a\":1}");
    }
}
