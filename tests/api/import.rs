//! `pesync import` against the real app: a CSV and an NDJSON file of a few thousand rows each, with
//! a duplicate, a quarantined event and a malformed row, through the library function and the binary;
//! and `pesync import --scores`: a CSV score export stored through `POST /v1/scores`, rerun as
//! duplicates, and handed over by the evaluation run.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::Duration;
use pesync::tools::import::read::Format;
use pesync::tools::import::{Input, Options, Summary};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::scoring_support::{campaign, create_campaign, evaluate, lease};

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

    let s = pesync::tools::import::import(&options(&app, Format::Csv), Input::File(csv.0.clone()))
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
    let s: Summary = pesync::tools::import::import(
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
    pesync_binary_with(args, &[]).await
}

/// The binary with these environment variables (and none of the import's credentials otherwise).
async fn pesync_binary_with(
    args: Vec<String>,
    env: &[(&'static str, &'static str)],
) -> std::process::Output {
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pesync"));
        c.args(&args).env_remove(pesync::tools::import::SECRET_ENV);
        for name in pesync::tools::import::TOKEN_ENVS {
            c.env_remove(name);
        }
        c.envs(env).output().unwrap()
    })
    .await
    .unwrap()
}

const SCORE_CONTACTS: usize = 600;

/// A score export: every contact rose from 0.50 five hours ago to 0.85 an hour ago with a voice
/// preference (so the run hands it over), one with a window of its own; then a score out of range,
/// a score that is not a number, and an instant that does not read.
fn score_export(app: &TestApp) -> String {
    let before = (app.now() - Duration::hours(5)).to_rfc3339();
    let after = (app.now() - Duration::hours(1)).to_rfc3339();
    let mut csv =
        String::from("contact_id,score,observed_at,channel_preference,best_contact_window\n");
    for i in 0..SCORE_CONTACTS {
        writeln!(csv, "s-{i},0.50,{before},,").unwrap();
        writeln!(csv, "s-{i},0.85,{after},voice,").unwrap();
    }
    writeln!(csv, "s-w,0.5,{before},,").unwrap();
    writeln!(
        csv,
        "s-w,0.9,{after},voice,\"{{\"\"start_time\"\": \"\"00:00:00\"\", \"\"end_time\"\": \"\"00:00:00\"\", \"\"timezone\"\": \"\"Asia/Kathmandu\"\"}}\""
    )
    .unwrap();
    writeln!(csv, "s-x,1.5,{after},,").unwrap();
    writeln!(csv, "s-y,high,{after},,").unwrap();
    writeln!(csv, "s-z,0.5,yesterday,voice,").unwrap();
    csv
}

#[tokio::test]
async fn a_csv_score_export_is_stored_a_rerun_is_duplicate_and_the_run_hands_over() {
    let app = spawn_app().await;
    create_campaign(&app, &campaign("spring", 0, "pull")).await;
    let csv = TempFile::new("csv", &score_export(&app));
    let rows = 2 * SCORE_CONTACTS as u64 + 2;
    // The header is line 1; the three bad rows follow the good ones.
    let (x, y, z) = (rows + 2, rows + 3, rows + 4);

    let mut o = Options::scores(&app.address, SecretString::from(SCORER), Format::Csv);
    o.batch_size = 250;
    o.concurrency = 3;
    let s = pesync::tools::import::import(&o, Input::File(csv.0.clone()))
        .await
        .unwrap();
    assert_eq!(
        (s.stored, s.duplicate, s.rejected, s.malformed, s.failed),
        (rows, 0, 2, 1, 0),
        "{s}"
    );
    assert_eq!(s.stopped, None);
    assert!(!s.complete(), "rejected and malformed rows were not stored");
    let mut noted: Vec<(u64, String)> = s.notes.iter().map(|n| (n.line, n.what.clone())).collect();
    noted.sort();
    assert_eq!(
        noted,
        [
            (x, "rejected (score_out_of_range)".to_owned()),
            (
                y,
                "malformed, not sent: the score \"high\" is not a number".to_owned()
            ),
            (z, "rejected (invalid_timestamp)".to_owned()),
        ],
        "{s}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM score_observations WHERE source = 'pushed'"
        )
        .await,
        rows as i64
    );
    // Typed as the API reads them: the window cell became the contact's window.
    let window: Value =
        sqlx::query_scalar("SELECT best_window FROM contact_scores WHERE contact_id = 's-w'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(window["timezone"], "Asia/Kathmandu", "{window}");

    // The same file again: nothing new, every stored observation a duplicate.
    let s = pesync::tools::import::import(&o, Input::File(csv.0.clone()))
        .await
        .unwrap();
    assert_eq!(
        (s.stored, s.duplicate, s.rejected, s.malformed),
        (0, rows, 2, 1),
        "{s}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        rows as i64
    );

    // The run reads the imported scores and hands every risen contact over.
    let r = evaluate(&app).await;
    assert_eq!(r.contacts, SCORE_CONTACTS as u64 + 1, "{r:?}");
    assert_eq!(r.queued, SCORE_CONTACTS as u64 + 1, "{r:?}");
    let items = lease(&app, "spring", 5).await;
    assert_eq!(items.len(), 5, "{items:?}");
    for i in &items {
        assert_eq!(i["data"]["channel"], "voice", "{i}");
    }

    // NDJSON goes as it is: a line that is not JSON is the server's `malformed`, with its line.
    let at = app.now().to_rfc3339();
    let ndjson = TempFile::new(
        "ndjson",
        &format!(
            "{}\n\n{{\"contact_id\": \"n-2\", \"score\": \"0.4\", \"observed_at\": \"{at}\"}}\n{{broken\n",
            json!({"contact_id": "n-1", "score": 0.4, "observed_at": at})
        ),
    );
    let o = Options::scores(&app.address, SecretString::from(ADMIN), Format::Ndjson);
    let s = pesync::tools::import::import(&o, Input::File(ndjson.0.clone()))
        .await
        .unwrap();
    assert_eq!((s.stored, s.rejected, s.malformed), (1, 2, 0), "{s}");
    let noted: Vec<(u64, &str)> = s.notes.iter().map(|n| (n.line, n.what.as_str())).collect();
    assert_eq!(
        noted,
        [(3, "rejected (invalid_score)"), (4, "rejected (malformed)")],
        "{s}"
    );
}

#[tokio::test]
async fn the_binary_imports_scores_with_the_scorer_token_and_refuses_the_viewer_token() {
    let app = spawn_app().await;
    let csv = TempFile::new("csv", &score_export(&app));
    let rows = 2 * SCORE_CONTACTS + 2;
    let args = || -> Vec<String> {
        [
            "import",
            "--scores",
            "--url",
            &app.address,
            "--batch-size",
            "300",
        ]
        .map(String::from)
        .into_iter()
        .chain([csv.0.display().to_string()])
        .collect()
    };
    let out = pesync_binary_with(args(), &[("PESYNC_SCORER_TOKEN", SCORER)]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Two rejected rows and a malformed one: the import says so and exits 1.
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("{} observations answered", rows + 2)),
        "{stdout}"
    );
    for (name, n) in [
        ("stored", rows),
        ("duplicate", 0),
        ("rejected", 2),
        ("malformed", 1),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().take(2).eq([name, &n.to_string()])),
            "{name} {n}: {stdout}"
        );
    }
    assert!(
        stderr.contains("3 records were not stored (1 malformed, 2 rejected, 0 failed)"),
        "{stderr}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) FROM score_observations").await,
        rows as i64
    );

    // The viewer token may not post scores: a clear refusal, nothing stored.
    let out = pesync_binary_with(args(), &[("PESYNC_ADMIN_TOKEN", VIEWER)]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("403"), "{stderr}");
    assert!(
        stderr.contains("use the scorer or the admin token"),
        "{stderr}"
    );

    // A score import takes no source, and an event import no token file.
    let mut a = args();
    a.extend(["--source".into(), "crm".into()]);
    let out = pesync_binary_with(a, &[("PESYNC_SCORER_TOKEN", SCORER)]).await;
    assert_eq!(out.status.code(), Some(2), "a usage error");
}
