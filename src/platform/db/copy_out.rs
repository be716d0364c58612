//! Rows of `COPY … TO STDOUT (FORMAT binary)`, read with sqlx's `copy_out_raw` and taken apart
//! here: the reading counterpart of [`super::copy::BinaryCopy`].
//!
//! The evaluation run reads three million observation rows per million contacts. Through a query,
//! each row is a `DataRow` made into a `PgRow`, each column type-checked and decoded into an owned
//! value; through binary COPY it is a length-prefixed run of bytes that the caller reads in place
//! (issue 12: sqlx's row machinery was a quarter of the run's CPU in pesync).
//!
//! COPY takes no bind parameters. A statement's values travel as settings of its own transaction
//! ([`read_with`]), which the statement reads with `current_setting`: nothing is ever spliced into
//! its text.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::{Connection, PgConnection};

use super::copy::PG_EPOCH_MICROS;

/// The binary COPY header: signature, flags, header-extension length (`copy.c`).
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Sets each `(name, value)` (custom settings such as `pesync.first`) until the transaction ends,
/// in one round trip; `current_setting(name)` reads them back in the transaction's statements.
async fn set_local(conn: &mut PgConnection, settings: &[(&str, &str)]) -> sqlx::Result<()> {
    let (names, values): (Vec<&str>, Vec<&str>) = settings.iter().copied().unzip();
    sqlx::query_scalar!(
        r#"SELECT count(set_config(n, v, true)) AS "set!"
           FROM UNNEST($1::text[], $2::text[]) AS s(n, v)"#,
        &names as &[&str],
        &values as &[&str]
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Runs `statement` (a `COPY (…) TO STDOUT (FORMAT binary)` whose values it reads with
/// `current_setting`) in a transaction of its own with `settings` set ([`set_local`]), and hands
/// each row to `row`, in the order PostgreSQL sends them. Returns how many rows there were.
pub async fn read_with(
    conn: &mut PgConnection,
    statement: &str,
    settings: &[(&str, &str)],
    row: impl FnMut(&mut Fields<'_>) -> sqlx::Result<()>,
) -> sqlx::Result<u64> {
    let mut tx = conn.begin().await?;
    set_local(&mut tx, settings).await?;
    let rows = for_each_row(&mut tx, statement, row).await?;
    tx.commit().await?;
    Ok(rows)
}

/// Runs `statement` and hands each row to `row`. A row that cannot be read fails the call, but
/// only once PostgreSQL has sent the rest: a COPY left half read would leave the connection in
/// the middle of it for its next user.
pub async fn for_each_row(
    conn: &mut PgConnection,
    statement: &str,
    mut row: impl FnMut(&mut Fields<'_>) -> sqlx::Result<()>,
) -> sqlx::Result<u64> {
    let mut stream = conn.copy_out_raw(statement).await?;
    let mut reader = Reader::default();
    let mut failed = None;
    while let Some(chunk) = stream.try_next().await? {
        if failed.is_none()
            && let Err(error) = reader.feed(&chunk, &mut row)
        {
            failed = Some(error);
        }
    }
    match failed {
        Some(error) => Err(error),
        None => reader.finish(),
    }
}

/// The parser: the header, then whole rows. PostgreSQL sends one message per row, so a row is
/// nearly always read in place from its chunk; a row split across chunks waits in `partial`.
#[derive(Default)]
struct Reader {
    partial: Vec<u8>,
    header_read: bool,
    ended: bool,
    rows: u64,
}

impl Reader {
    fn feed(
        &mut self,
        chunk: &[u8],
        row: &mut impl FnMut(&mut Fields<'_>) -> sqlx::Result<()>,
    ) -> sqlx::Result<()> {
        if self.partial.is_empty() {
            let used = self.parse(chunk, row)?;
            self.partial.extend_from_slice(&chunk[used..]);
        } else {
            let mut bytes = std::mem::take(&mut self.partial);
            bytes.extend_from_slice(chunk);
            let used = self.parse(&bytes, row)?;
            bytes.drain(..used);
            self.partial = bytes;
        }
        Ok(())
    }

    /// Reads every whole item at the start of `bytes`; returns how many bytes they took.
    fn parse(
        &mut self,
        bytes: &[u8],
        row: &mut impl FnMut(&mut Fields<'_>) -> sqlx::Result<()>,
    ) -> sqlx::Result<usize> {
        let mut at = 0;
        if !self.header_read {
            let Some(n) = header_len(bytes)? else {
                return Ok(0);
            };
            self.header_read = true;
            at = n;
        }
        while at < bytes.len() {
            if self.ended {
                return Err(malformed("data after the trailer"));
            }
            let Some(n) = row_len(&bytes[at..])? else {
                break;
            };
            let mut fields = Fields {
                bytes: &bytes[at + 2..at + n],
                left: i16::from_be_bytes([bytes[at], bytes[at + 1]]),
            };
            if fields.left == -1 {
                self.ended = true;
            } else {
                row(&mut fields)?;
                if fields.left != 0 {
                    return Err(malformed("a row has more fields than were read"));
                }
                self.rows += 1;
            }
            at += n;
        }
        Ok(at)
    }

    fn finish(self) -> sqlx::Result<u64> {
        if !self.ended || !self.partial.is_empty() {
            return Err(malformed("the data ended before its trailer"));
        }
        Ok(self.rows)
    }
}

/// The header's length, once `bytes` hold all of it.
fn header_len(bytes: &[u8]) -> sqlx::Result<Option<usize>> {
    let fixed = SIGNATURE.len() + 8;
    if bytes.len() < fixed {
        return Ok(None);
    }
    if &bytes[..SIGNATURE.len()] != SIGNATURE {
        return Err(malformed("no binary COPY signature"));
    }
    let extension = i32_at(bytes, SIGNATURE.len() + 4);
    let extension = usize::try_from(extension).map_err(|_| malformed("a negative extension"))?;
    Ok((bytes.len() >= fixed + extension).then_some(fixed + extension))
}

/// The length of the row (or trailer) at the start of `bytes`, once they hold all of it.
fn row_len(bytes: &[u8]) -> sqlx::Result<Option<usize>> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let count = i16::from_be_bytes([bytes[0], bytes[1]]);
    if count == -1 {
        return Ok(Some(2));
    }
    let mut at = 2;
    for _ in 0..count.max(0) {
        if bytes.len() < at + 4 {
            return Ok(None);
        }
        let size = i32_at(bytes, at);
        at += 4;
        if size >= 0 {
            at += size as usize;
        } else if size != -1 {
            return Err(malformed("a negative field length"));
        }
    }
    Ok((bytes.len() >= at).then_some(at))
}

fn i32_at(bytes: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

fn malformed(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("binary COPY from PostgreSQL: {what}"))
}

/// One row's fields, read in order; each reader checks the field's length for its type.
pub struct Fields<'a> {
    bytes: &'a [u8],
    left: i16,
}

impl<'a> Fields<'a> {
    /// The next field's bytes, `None` for NULL. The row's extent was checked when it was cut.
    fn next(&mut self) -> sqlx::Result<Option<&'a [u8]>> {
        if self.left <= 0 {
            return Err(malformed("a row has fewer fields than were read"));
        }
        self.left -= 1;
        let size = i32_at(self.bytes, 0);
        let (field, rest) = if size < 0 {
            (None, &self.bytes[4..])
        } else {
            let (field, rest) = self.bytes[4..].split_at(size as usize);
            (Some(field), rest)
        };
        self.bytes = rest;
        Ok(field)
    }

    fn not_null(&mut self) -> sqlx::Result<&'a [u8]> {
        self.next()?
            .ok_or_else(|| malformed("NULL in a NOT NULL column"))
    }

    fn fixed<const N: usize>(&mut self) -> sqlx::Result<[u8; N]> {
        self.not_null()?
            .try_into()
            .map_err(|_| malformed("a field of the wrong length for its type"))
    }

    pub fn text(&mut self) -> sqlx::Result<&'a str> {
        std::str::from_utf8(self.not_null()?).map_err(|_| malformed("text that is not UTF-8"))
    }

    /// Text or NULL.
    pub fn opt_text(&mut self) -> sqlx::Result<Option<&'a str>> {
        self.next()?
            .map(|bytes| {
                std::str::from_utf8(bytes).map_err(|_| malformed("text that is not UTF-8"))
            })
            .transpose()
    }

    pub fn i64(&mut self) -> sqlx::Result<i64> {
        Ok(i64::from_be_bytes(self.fixed()?))
    }

    pub fn f64(&mut self) -> sqlx::Result<f64> {
        Ok(f64::from_be_bytes(self.fixed()?))
    }

    pub fn timestamptz(&mut self) -> sqlx::Result<DateTime<Utc>> {
        let micros = i64::from_be_bytes(self.fixed()?);
        micros
            .checked_add(PG_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| malformed("a timestamp out of range (infinity?)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::db::copy::BinaryCopy;

    /// Observations as [`BinaryCopy`] encodes them, which is PostgreSQL's own binary format.
    fn encoded(rows: &[(&str, DateTime<Utc>, f64)]) -> Vec<u8> {
        let mut c = BinaryCopy::default();
        for (id, at, score) in rows {
            c.row(3).text(id).timestamptz(*at).opt_f64(Some(*score));
        }
        c.into_bytes()
    }

    fn read_in(chunks: &[&[u8]]) -> sqlx::Result<Vec<(String, DateTime<Utc>, f64)>> {
        let mut reader = Reader::default();
        let mut out = Vec::new();
        for chunk in chunks {
            reader.feed(chunk, &mut |f: &mut Fields<'_>| {
                out.push((f.text()?.to_owned(), f.timestamptz()?, f.f64()?));
                Ok(())
            })?;
        }
        assert_eq!(reader.finish()?, out.len() as u64);
        Ok(out)
    }

    fn rows() -> Vec<(&'static str, DateTime<Utc>, f64)> {
        let t: DateTime<Utc> = "2026-12-07T06:00:00.123456Z".parse().unwrap();
        vec![
            ("c-1", t, 0.5),
            ("c-é", t - chrono::TimeDelta::days(9000), 0.25),
            ("", DateTime::UNIX_EPOCH, -1.0),
        ]
    }

    #[test]
    fn rows_read_back_as_written_in_one_chunk_or_split_anywhere() {
        let rows = rows();
        let bytes = encoded(&rows);
        let expect: Vec<_> = rows
            .iter()
            .map(|(i, t, s)| (i.to_string(), *t, *s))
            .collect();
        assert_eq!(read_in(&[&bytes]).unwrap(), expect);
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(read_in(&[a, b]).unwrap(), expect, "cut at {cut}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read_in(&bytewise).unwrap(), expect);
    }

    #[test]
    fn integers_and_nullable_text_read_back() {
        let mut c = BinaryCopy::default();
        c.row(3).i64(-7).opt_text(Some("é")).opt_text(None);
        c.row(3).i64(i64::MAX).opt_text(None).opt_text(Some(""));
        let mut reader = Reader::default();
        let mut out = Vec::new();
        let mut read = |f: &mut Fields<'_>| {
            let row = (f.i64()?, f.opt_text()?.map(str::to_owned));
            out.push((row.0, row.1, f.opt_text()?.map(str::to_owned)));
            Ok(())
        };
        reader.feed(&c.into_bytes(), &mut read).unwrap();
        assert_eq!(reader.finish().unwrap(), 2);
        let text = |s: &str| Some(s.to_owned());
        assert_eq!(out, [(-7, text("é"), None), (i64::MAX, None, text(""))]);
    }

    #[test]
    fn a_cut_short_or_damaged_stream_is_an_error_not_a_panic() {
        let bytes = encoded(&rows());
        for cut in 0..bytes.len() {
            assert!(read_in(&[&bytes[..cut]]).is_err(), "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(read_in(&[&bad]).is_err());
        let mut extra = bytes.clone();
        extra.extend_from_slice(&(-1i16).to_be_bytes());
        assert!(read_in(&[&extra]).is_err(), "data after the trailer");
        // A row of two fields where three are read, and the other way round.
        let mut c = BinaryCopy::default();
        c.row(2).text("c-1").opt_f64(Some(1.0));
        assert!(read_in(&[&c.into_bytes()]).is_err());
        let mut c = BinaryCopy::default();
        c.row(4)
            .text("c-1")
            .timestamptz(Utc::now())
            .opt_f64(Some(1.0))
            .opt_f64(None);
        assert!(read_in(&[&c.into_bytes()]).is_err());
        // A field of the wrong size for its type, and a NULL where a value must be.
        let mut c = BinaryCopy::default();
        c.row(3).text("c-1").text("abc").opt_f64(Some(1.0));
        assert!(read_in(&[&c.into_bytes()]).is_err());
        let mut c = BinaryCopy::default();
        c.row(3).text("c-1").timestamptz(Utc::now()).opt_f64(None);
        assert!(read_in(&[&c.into_bytes()]).is_err());
    }
}
