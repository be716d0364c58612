//! What a hostile or careless client may cost (issue 8, defects 2, 3 and 5): forged signature
//! headers, compressed bodies, oversized documents, too many events, and slow requests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use pesync::app::config::Settings;
use pesync::ingest::signature;
use pesync::platform::clock::ManualClock;
use serde_json::{Value, json};

use crate::helpers::*;

async fn app_with_source() -> TestApp {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    app
}

async fn stored_anything(app: &TestApp) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT FROM events) OR EXISTS (SELECT FROM quarantine) OR EXISTS (SELECT FROM dedup_keys)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn post_with_signature(app: &TestApp, header: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .header(signature::HEADER, header)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_sixth_v1_entry_is_401_even_when_one_of_them_matches() {
    let app = app_with_source().await;
    let body = serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap();
    let t = app.now().timestamp();
    let good = signature::sign(SECRET.as_bytes(), t, &body);
    let decoy = "ab".repeat(32);
    let six = format!("t={t}{},v1={good}", format!(",v1={decoy}").repeat(5));
    assert_problem(post_with_signature(&app, &six, body.clone()).await, 401).await;
    assert!(!stored_anything(&app).await);
    // Five entries, the good one last, are accepted.
    let five = format!("t={t}{},v1={good}", format!(",v1={decoy}").repeat(4));
    let r = post_with_signature(&app, &five, body).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_forged_header_of_110_entries_over_4_mib_is_refused_at_once() {
    let app = app_with_source().await;
    let t = app.now().timestamp();
    let mut body = b"[".to_vec();
    body.resize(4 * 1024 * 1024, b' ');
    body.push(b']');
    let forged = format!("t={t}{}", format!(",v1={}", "cd".repeat(32)).repeat(110));
    assert!(forged.len() < 8 * 1024);
    let started = Instant::now();
    let r = post_with_signature(&app, &forged, body).await;
    let took = started.elapsed();
    let p = assert_problem(r, 401).await;
    assert!(
        p["detail"].as_str().unwrap().contains("t=<unix seconds>"),
        "{p}"
    );
    assert!(!stored_anything(&app).await);
    // The refusal is decided before any HMAC. Measured on a loaded 2-core machine, debug build:
    // 17–120 ms now, 2.7–3.5 s when each of the 110 entries cost an HMAC over the 4 MiB.
    assert!(took < StdDuration::from_millis(1500), "took {took:?}");
}

#[tokio::test]
async fn compressed_bodies_are_refused_with_415_whatever_they_decode_to() {
    let app = app_with_source().await;
    // 6 KiB of gzip that decodes to 6 MiB of zeros, signed as sent.
    let bomb = include_bytes!("fixtures/zeros-6mib.gz").to_vec();
    let t = app.now().timestamp();
    for coding in ["gzip", "br", "zstd", "deflate", "identity, gzip"] {
        let r = app
            .client
            .post(app.url("/v1/sources/crm/events"))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", coding)
            .header(
                signature::HEADER,
                signature::header_value(SECRET.as_bytes(), t, &bomb),
            )
            .body(bomb.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().get("accept-encoding").unwrap(),
            "identity",
            "{coding}"
        );
        let p = assert_problem(r, 415).await;
        assert!(p["detail"].as_str().unwrap().contains("content coding"));
    }
    assert!(!stored_anything(&app).await);
    // Admin documents too.
    let r = app
        .client
        .put(app.url("/v1/admin/sources/zipped"))
        .bearer_auth(ADMIN)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_problem(r, 415).await;
    assert_eq!(
        app.admin_get("/v1/admin/sources/zipped").await.status(),
        404
    );
    // `identity` is no coding at all.
    let body = serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap();
    let r = app
        .client
        .post(app.url("/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "identity")
        .header(
            signature::HEADER,
            signature::header_value(SECRET.as_bytes(), t, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A source document padded with whitespace to `size` bytes (valid JSON, so only its size matters).
fn padded_source_document(size: usize) -> Vec<u8> {
    let mut doc = serde_json::to_vec(&json!({"signing_secret": SECRET, "mapping": {}})).unwrap();
    let close = doc.pop().unwrap();
    doc.resize(size - 1, b' ');
    doc.push(close);
    doc
}

#[tokio::test]
async fn admin_documents_over_256_kib_are_413_but_events_keep_5_mib() {
    let app = spawn_app().await;
    let put = |name: &str, body: Vec<u8>| {
        app.client
            .put(app.url(&format!("/v1/admin/sources/{name}")))
            .bearer_auth(ADMIN)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let limit = pesync::platform::http::limits::MAX_ADMIN_BODY_BYTES;
    let r = put("big", padded_source_document(limit + 1)).await.unwrap();
    let p = assert_problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("262144"), "{p}");
    assert_eq!(app.admin_get("/v1/admin/sources/big").await.status(), 404);
    // Without a Content-Length (chunked), the limit holds while reading.
    let head = format!(
        "PUT /v1/admin/sources/chunked HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let doc = padded_source_document(limit + 1);
    let mut raw = head.into_bytes();
    for chunk in doc.chunks(64 * 1024) {
        raw.extend(format!("{:x}\r\n", chunk.len()).bytes());
        raw.extend(chunk);
        raw.extend(b"\r\n");
    }
    raw.extend(b"0\r\n\r\n");
    let answer = exchange(&app, raw).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert_eq!(
        app.admin_get("/v1/admin/sources/chunked").await.status(),
        404
    );
    // Exactly the limit is read.
    let r = put("fits", padded_source_document(limit)).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // Ingestion still takes bodies far over 256 KiB (up to 5 MiB, SPEC §2).
    let mut body = b"[".to_vec();
    body.resize(1024 * 1024, b' ');
    body.extend(serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap());
    body.push(b']');
    let r = app.post_raw("fits", "application/json", body).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn over_1000_events_is_413_in_ndjson_too_and_stores_nothing() {
    let app = app_with_source().await;
    let line = |i: usize| serde_json::to_string(&event("c", &format!("R{i}"), app.now())).unwrap();
    let over: Vec<String> = (0..1001).map(line).collect();
    let r = app
        .post_raw("crm", "application/x-ndjson", over.join("\n").into_bytes())
        .await;
    let p = assert_problem(r, 413).await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("1001 events"),
        "{p}"
    );
    // An array of many more: the answer still counts them all.
    let over: Vec<Value> = vec![json!({}); 2500];
    let r = app
        .post_raw(
            "crm",
            "application/json",
            serde_json::to_vec(&over).unwrap(),
        )
        .await;
    let p = assert_problem(r, 413).await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("2500 events"),
        "{p}"
    );
    assert!(!stored_anything(&app).await);
    // 1,000 lines, blank lines between them, are within the limit.
    let at: Vec<String> = (0..1000).map(line).collect();
    let r = app
        .post_raw("crm", "application/x-ndjson", at.join("\n\n").into_bytes())
        .await;
    assert_eq!(r.status(), 200);
}

/// The app with a short read timeout, so slow-client tests take about a second.
async fn app_with_read_timeout(timeout: StdDuration) -> TestApp {
    let (db_url, pool) = fresh_database().await;
    let settings = Settings {
        read_timeout: timeout,
        ..test_settings(&db_url)
    };
    let app = start(
        settings,
        pool,
        TestClock::Manual(ManualClock::new(Utc::now())),
    )
    .await;
    app.create_source("crm", json!({})).await;
    app
}

/// Opens a raw connection to the app.
fn connect(app: &TestApp) -> TcpStream {
    let s = TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(StdDuration::from_secs(20)))
        .unwrap();
    s
}

/// Sends `raw` on a fresh connection and reads the answer until the server closes it.
async fn exchange(app: &TestApp, raw: Vec<u8>) -> String {
    let mut s = connect(app);
    tokio::task::spawn_blocking(move || {
        // The server may answer (and close) before it has read everything.
        let _ = s.write_all(&raw);
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

/// Writes `head`, then trickles `trickle` a byte every 100 ms from another thread, and reads on
/// this connection until the server closes it: the answer and how long that took.
async fn trickle(app: &TestApp, head: String, trickle: Vec<u8>) -> (String, StdDuration) {
    let mut s = connect(app);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        s.write_all(head.as_bytes()).unwrap();
        let mut writer = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for b in trickle {
                std::thread::sleep(StdDuration::from_millis(100));
                if writer.write_all(&[b]).is_err() {
                    return;
                }
            }
        });
        let mut answer = Vec::new();
        // A reset after the answer (bytes still in flight) is a close too.
        let _ = s.read_to_end(&mut answer);
        (
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_trickled_body_gets_408_and_the_connection_is_closed() {
    let app = app_with_read_timeout(StdDuration::from_secs(1)).await;
    let body = serde_json::to_vec(&event("c-1", "OPP-1", app.now())).unwrap();
    let header = signature::header_value(SECRET.as_bytes(), app.now().timestamp(), &body);
    let head = format!(
        "POST /v1/sources/crm/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{}: {header}\r\n\r\n",
        body.len(),
        signature::HEADER
    );
    // About 30 s of trickling at 10 bytes/s: the body is far from complete at the deadline.
    let (answer, took) = trickle(&app, head, body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
    assert!(
        took >= StdDuration::from_secs(1) && took < StdDuration::from_secs(10),
        "closed after {took:?}"
    );
    assert!(!stored_anything(&app).await);
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_off_too() {
    let app = app_with_read_timeout(StdDuration::from_secs(1)).await;
    let head = "POST /v1/sources/crm/events HTTP/1.1\r\nHost: x\r\n".to_owned();
    let rest = b"Content-Type: application/json\r\nX-Padding: ".repeat(10);
    let (answer, took) = trickle(&app, head, rest).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(took < StdDuration::from_secs(10), "closed after {took:?}");
}

#[tokio::test]
async fn a_second_request_head_cannot_hold_the_connection() {
    // actix times only the first head on a connection: a kept-alive connection would let the
    // second one trickle for ever, so every connection carries one request.
    let app = app_with_read_timeout(StdDuration::from_secs(1)).await;
    let head = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n".to_owned();
    let rest = b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(10);
    let (answer, took) = trickle(&app, head, rest).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    assert!(took < StdDuration::from_secs(10), "closed after {took:?}");
}
