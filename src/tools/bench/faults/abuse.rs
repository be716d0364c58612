//! The abuse cases of issue 8, against a running service: what each answers and how long it takes.
//! Every request loop is bounded in count and time, and sends only to 127.0.0.1.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::gzip;
use super::load::SOURCE;
use crate::ingest::signature;

/// One abuse case's figures.
#[derive(Debug, Clone)]
pub struct AbuseRow {
    pub case: &'static str,
    /// Answer statuses and how often; 0 stands for "connection closed without an answer".
    pub statuses: BTreeMap<u16, usize>,
    pub median: Duration,
    pub max: Duration,
    pub expected: String,
    pub ok: bool,
}

impl AbuseRow {
    pub fn server_errors(&self) -> usize {
        self.statuses
            .iter()
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

fn summarize(case: &'static str, expected: &'static str, answers: &[(u16, Duration)]) -> AbuseRow {
    let mut statuses = BTreeMap::new();
    for (s, _) in answers {
        *statuses.entry(*s).or_default() += 1;
    }
    let mut times: Vec<Duration> = answers.iter().map(|(_, d)| *d).collect();
    times.sort();
    AbuseRow {
        case,
        statuses,
        median: times.get(times.len() / 2).copied().unwrap_or_default(),
        max: times.last().copied().unwrap_or_default(),
        expected: expected.to_owned(),
        ok: false,
    }
}

/// Ingestion URL, the source's signing secret and a client for the cases.
pub struct Target<'a> {
    pub base: &'a str,
    pub secret: &'a str,
    pub http: &'a reqwest::Client,
}

impl Target<'_> {
    fn events_url(&self) -> String {
        format!("{}/v1/sources/{SOURCE}/events", self.base)
    }

    async fn timed(&self, req: reqwest::RequestBuilder) -> (u16, Duration) {
        let started = Instant::now();
        let status = match req.send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                let _ = r.bytes().await;
                s
            }
            Err(_) => 0,
        };
        (status, started.elapsed())
    }
}

/// A forged `X-Pesync-Signature` with `entries` wrong `v1=` values over a 4 MiB body.
fn forged(entries: usize) -> String {
    let mut h = format!("t={}", Utc::now().timestamp());
    for i in 0..entries {
        h.push_str(&format!(",v1={i:064x}"));
    }
    h
}

/// ~110 `v1=` entries over a 4 MiB body, against one entry over the same body: a forged header
/// must cost about one MAC, whatever the number of entries (at most 2× the single one, +20 ms).
pub async fn forged_signature(t: &Target<'_>) -> AbuseRow {
    let body = vec![b'x'; 4 << 20];
    let mut many = Vec::new();
    let mut one = Vec::new();
    for _ in 0..5 {
        for (entries, into) in [(110, &mut many), (1, &mut one)] {
            let req = t
                .http
                .post(t.events_url())
                .header("Content-Type", "application/x-ndjson")
                .header(signature::HEADER, forged(entries))
                .body(body.clone());
            into.push(t.timed(req).await);
        }
    }
    let mut row = summarize(
        "forged signature, 110 v1= entries, 4 MiB body (×5)",
        "401, ≤ 2× one entry's time + 20 ms",
        &many,
    );
    let single = summarize("", "", &one).median;
    row.expected = format!(
        "401, ≤ 2× one entry's time ({:.3} s) + 20 ms",
        single.as_secs_f64()
    );
    row.ok = row.statuses.keys().all(|s| *s == 401)
        && row.median <= single * 2 + Duration::from_millis(20);
    row
}

/// 256 MiB of zeros gzipped to ~1.7 MB: the limit must apply to the decoded size (413), or the
/// coding be refused (415); either way quickly.
pub async fn gzip_bomb(t: &Target<'_>) -> AbuseRow {
    let bomb = gzip::zeros(256 << 20);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let ts = Utc::now().timestamp();
        let req = t
            .http
            .post(t.events_url())
            .header("Content-Type", "application/x-ndjson")
            .header("Content-Encoding", "gzip")
            .header(
                signature::HEADER,
                signature::header_value(t.secret.as_bytes(), ts, &bomb),
            )
            .body(bomb.clone());
        answers.push(t.timed(req).await);
    }
    let mut row = summarize(
        "gzip bomb, 1.7 MB inflating to 256 MiB (×3)",
        "413 or 415 within 2 s",
        &answers,
    );
    row.ok =
        row.statuses.keys().all(|s| *s == 413 || *s == 415) && row.max <= Duration::from_secs(2);
    row
}

/// 200 concurrent scrapes of `/metrics`, and one ingestion batch posted while they run.
pub async fn concurrent_scrapes(t: &Target<'_>) -> (AbuseRow, (u16, Duration)) {
    let url = format!("{}/metrics", t.base);
    let scrapes = futures_util::future::join_all((0..200).map(|_| t.timed(t.http.get(&url))));
    let body = format!(
        "{{\"contact_id\":\"abuse-1\",\"event_type\":\"crm.transaction\",\"event_timestamp\":\"{}\",\"attributes\":{{\"crm_record_id\":\"abuse-{}\",\"transaction_value\":1}}}}\n",
        Utc::now().to_rfc3339(),
        uuid::Uuid::new_v4()
    );
    let ingest = async {
        // Let the scrapes be under way first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ts = Utc::now().timestamp();
        let req = t
            .http
            .post(t.events_url())
            .header("Content-Type", "application/x-ndjson")
            .header(
                signature::HEADER,
                signature::header_value(t.secret.as_bytes(), ts, body.as_bytes()),
            )
            .body(body.clone());
        t.timed(req).await
    };
    let (answers, ingested) = tokio::join!(scrapes, ingest);
    let mut row = summarize(
        "200 concurrent /metrics scrapes",
        "all 200; ingestion meanwhile 200",
        &answers,
    );
    row.ok = row.statuses.keys().all(|s| *s == 200) && ingested.0 == 200;
    (row, ingested)
}

/// A body announced as 100 kB and sent one byte a second: the service must answer (408) or close
/// within 35 s. The harness gives up at `limit`.
pub async fn slow_body(base: &str, limit: Duration) -> AbuseRow {
    let addr = base.trim_start_matches("http://").to_owned();
    let outcome = tokio::task::spawn_blocking(move || trickle(&addr, limit))
        .await
        .unwrap_or((0, Duration::ZERO));
    let mut row = summarize(
        "slow body, 1 byte/s of a 100 kB body",
        "408 or closed within 35 s",
        &[outcome],
    );
    // A status of 1 stands for "still open when the harness gave up".
    row.ok = outcome.0 != 1 && outcome.1 <= Duration::from_secs(35);
    row
}

/// Sends a request head, then a byte a second; returns the status answered (0: closed without an
/// answer, 1: still open at `limit`) and when.
fn trickle(addr: &str, limit: Duration) -> (u16, Duration) {
    let started = Instant::now();
    let Ok(mut c) = TcpStream::connect(addr) else {
        return (0, started.elapsed());
    };
    let head = format!(
        "POST /v1/sources/{SOURCE}/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-ndjson\r\n{}: {}\r\nContent-Length: 100000\r\n\r\n",
        signature::HEADER,
        forged(1)
    );
    if c.write_all(head.as_bytes()).is_err() {
        return (0, started.elapsed());
    }
    let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 512];
    while started.elapsed() < limit {
        match c.read(&mut buf) {
            Ok(0) => return (0, started.elapsed()),
            Ok(n) => return (status_of(&buf[..n]), started.elapsed()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (0, started.elapsed()),
        }
        if c.write_all(b"x").is_err() {
            return (0, started.elapsed());
        }
    }
    (1, started.elapsed())
}

/// The status of an HTTP/1.1 status line (`HTTP/1.1 408 …`); 0 when it is not one.
fn status_of(answer: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forged_header_with_110_entries_fits_under_8_kib() {
        let h = forged(110);
        assert_eq!(h.matches("v1=").count(), 110);
        assert!(h.len() < 8 * 1024, "{}", h.len());
    }

    #[test]
    fn reads_the_status_of_a_status_line() {
        assert_eq!(status_of(b"HTTP/1.1 408 Request Timeout\r\n"), 408);
        assert_eq!(status_of(b"garbage"), 0);
    }

    #[test]
    fn the_median_and_max_are_of_the_answers_times() {
        let ms = Duration::from_millis;
        let row = summarize("c", "e", &[(200, ms(3)), (500, ms(1)), (200, ms(2))]);
        assert_eq!((row.median, row.max), (ms(2), ms(3)));
        assert_eq!(row.statuses, BTreeMap::from([(200, 2), (500, 1)]));
        assert_eq!(row.server_errors(), 1);
    }
}
