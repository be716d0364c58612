//! `pesync import` against the real app: a CSV and an NDJSON file of a few thousand rows each, with
//! a duplicate, a quarantined event and a malformed row, through the library function and the binary.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::Duration;
use pesync::import::read::Format;
use pesync::import::{Input, Options, Summary};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::*;

/// A file in the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(extension: &str, contents: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "pesync-import-{}.{extension}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, contents).unwrap();
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn options(app: &TestApp, format: Format) -> Options {
    let mut o = Options::new(&app.address, "crm", SecretString::from(SECRET), format);
    o.batch_size = 300;
    o.concurrency = 3;
    o
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.pool).await.unwrap()
}

const ROWS: usize = 2500;

#[tokio::test]
async fn a_csv_and_an_ndjson_file_are_streamed_into_a_source() {
    let app = spawn_app().await;
    app.create_source("crm", json!({"fields": {"amount": "transaction_value"}}))
        .await;
    let at = (app.now() - Duration::minutes(5)).to_rfc3339();

    // CSV: ROWS good rows, then a duplicate of row 1, a row with one field too few, a value that is
    // not a number, and a row with an empty optional cell.
    let mut csv = String::from(
        "contact_id,event_type,event_timestamp,crm_record_id,amount,product_category\n",
    );
    for i in 0..ROWS {
        writeln!(
            csv,
            "c-{i},crm.transaction,{at},OPP-{i},2450.00,enterprise_license"
        )
        .unwrap();
    }
    writeln!(
        csv,
        "c-0,crm.transaction,{at},OPP-0,2450.00,enterprise_license"
    )
    .unwrap();
    writeln!(csv, "c-x,crm.transaction,{at},OPP-x").unwrap();
    writeln!(
        csv,
        "c-y,crm.transaction,{at},OPP-y,lots,enterprise_license"
    )
    .unwrap();
    writeln!(csv, "c-z,crm.transaction,{at},OPP-z,12,").unwrap();
    let csv = TempFile::new("csv", &csv);

    let s = pesync::import::import(&options(&app, Format::Csv), Input::File(csv.0.clone()))
        .await
        .unwrap();
    let header_and_rows = ROWS as u64 + 1;
    assert_eq!(
        (
            s.accepted,
            s.duplicate,
            s.quarantined,
            s.malformed,
            s.failed
        ),
        (ROWS as u64 + 1, 1, 1, 1, 0),
        "{s}"
    );
    assert_eq!(s.stopped, None);
    assert!(!s.complete(), "a malformed row was not stored");
    let mut noted: Vec<(u64, &str)> = s.notes.iter().map(|n| (n.line, n.what.as_str())).collect();
    noted.sort();
    assert_eq!(noted.len(), 2, "{s}");
    assert_eq!(noted[0].0, header_and_rows + 2);
    assert!(
        noted[0]
            .1
            .starts_with("malformed, not sent: the row has 4 fields"),
        "{s}"
    );
    assert_eq!(noted[1].0, header_and_rows + 3);
    assert!(noted[1].1.starts_with("quarantined (type_mismatch)"), "{s}");

    assert_eq!(
        count(&app, "SELECT count(*) FROM events").await,
        ROWS as i64 + 1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 1);
    // The string "2450.00" became a number; the empty cell is absent, not "".
    let attrs: serde_json::Value =
        sqlx::query_scalar("SELECT attributes FROM events WHERE contact_id = 'c-1'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(attrs["transaction_value"].is_number(), "{attrs}");
    let attrs: serde_json::Value =
        sqlx::query_scalar("SELECT attributes FROM events WHERE contact_id = 'c-z'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(attrs.get("product_category").is_none(), "{attrs}");

    // NDJSON: new events, a resend of a CSV event (a duplicate) and a line that is not JSON.
    let mut ndjson = String::new();
    for i in 0..ROWS {
        let e = event(
            &format!("n-{i}"),
            &format!("NDJ-{i}"),
            app.now() - Duration::minutes(5),
        );
        writeln!(ndjson, "{e}").unwrap();
    }
    let again = json!({"contact_id": "c-7", "event_type": "crm.transaction", "event_timestamp": at,
                       "attributes": {"crm_record_id": "OPP-7", "transaction_value": 2450}});
    writeln!(ndjson, "{again}\n\n{{not json").unwrap();
    let ndjson = TempFile::new("ndjson", &ndjson);
    let s: Summary = pesync::import::import(
        &options(&app, Format::Ndjson),
        Input::File(ndjson.0.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            s.accepted,
            s.duplicate,
            s.quarantined,
            s.malformed,
            s.failed
        ),
        (ROWS as u64, 1, 1, 0, 0),
        "{s}"
    );
    assert!(s.complete());
    assert_eq!(s.notes.len(), 1);
    assert_eq!(s.notes[0].line, ROWS as u64 + 3);
    assert!(s.notes[0].what.contains("malformed"), "{s}");
    assert_eq!(
        count(&app, "SELECT count(*) FROM events").await,
        2 * ROWS as i64 + 1
    );
    assert_eq!(count(&app, "SELECT count(*) FROM quarantine").await, 2);
}

#[tokio::test]
async fn the_binary_reports_a_summary_and_stops_with_a_clear_error_on_refusal() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    let at = (app.now() - Duration::minutes(5)).to_rfc3339();
    let mut csv =
        String::from("contact_id,event_type,event_timestamp,crm_record_id,transaction_value\n");
    for i in 0..1200 {
        writeln!(csv, "c-{i},crm.transaction,{at},OPP-{i},{i}").unwrap();
    }
    let csv = TempFile::new("csv", &csv);
    let secret = TempFile::new("secret", &format!("{SECRET}\n"));

    let args = |source: &str| -> Vec<String> {
        let mut a: Vec<String> = ["import", "--source", source, "--url", &app.address]
            .map(String::from)
            .into();
        // Small batches: more of them than the reader may queue, so a stop must end the reading.
        a.extend([
            "--batch-size".into(),
            "100".into(),
            "--concurrency".into(),
            "2".into(),
        ]);
        a.push("--secret-file".into());
        a.push(secret.0.display().to_string());
        a.push(csv.0.display().to_string());
        a
    };
    let out = pesync_binary(args("crm")).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1200 events answered"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["accepted", "1200"])),
        "{stdout}"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM events").await, 1200);

    let out = pesync_binary(args("nope")).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert!(stderr.contains("no source named"), "{stderr}");
}

/// Runs the `pesync` binary off the async threads (the app under test answers on this runtime).
async fn pesync_binary(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pesync"))
            .args(&args)
            .env_remove(pesync::import::SECRET_ENV)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}
