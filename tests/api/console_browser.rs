//! The console and `/docs` in a real browser (issue 11 §3): Debian's headless Chromium loads them
//! from a seeded service over 127.0.0.1 and the test reads the DOM it rendered. Without
//! `/usr/bin/chromium` the browser tests print a loud SKIP, unless `PESYNC_REQUIRE_CHROMIUM=1`
//! (CI sets it, and installs the package). `PESYNC_CONSOLE_SCREENSHOT=docs/console.png` also takes
//! the README's screenshot. Also here: the Grafana dashboard queries only metrics that exist.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use serde_json::Value;

use crate::console::{CAMPAIGN, CONTACT, seeded};
use crate::helpers::*;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether the browser tests can run; panics when they must and cannot.
fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        std::env::var("PESYNC_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
        "PESYNC_REQUIRE_CHROMIUM=1 but {CHROMIUM} is missing (apt-get install chromium)"
    );
    eprintln!("\n*** SKIP: {CHROMIUM} is missing: the console's browser test did not run ***\n");
    false
}

/// Runs headless Chromium on `url` with `extra` arguments and answers its standard output. A
/// profile directory of its own per run, so concurrent tests do not share one; nothing is fetched
/// from anywhere but the URL's host.
async fn chromium(url: String, extra: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let profile =
            std::env::temp_dir().join(format!("pesync-chromium-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .args(["--disable-sync", "--disable-default-apps", "--mute-audio"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--virtual-time-budget=20000")
            .args(extra)
            .arg(url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let began = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if began.elapsed() > StdDuration::from_secs(120) {
                let _ = child.kill();
                panic!("chromium did not finish within 2 minutes");
            }
            std::thread::sleep(StdDuration::from_millis(100));
        }
        let out = child.wait_with_output().unwrap();
        let _ = std::fs::remove_dir_all(&profile);
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The text of the element carrying `data-metric="name"` in a dumped DOM.
fn metric(dom: &str, name: &str) -> Option<String> {
    let at = dom.find(&format!(r#"data-metric="{name}""#))?;
    let open = at + dom[at..].find('>')? + 1;
    let close = open + dom[open..].find('<')?;
    Some(dom[open..close].trim().to_owned())
}

/// A count as the console shows it ("1,234"), as a number.
fn count_of(dom: &str, name: &str) -> i64 {
    let text = metric(dom, name).unwrap_or_else(|| panic!("no {name} in the console"));
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{name} shows {text:?}"))
}

#[tokio::test]
async fn the_console_shows_the_stats_and_explains_a_contact_in_a_browser() {
    if !chromium_available() {
        return;
    }
    let (_sim, app) = seeded().await;
    let url = app.url(&format!("/console?contact={CONTACT}#token={VIEWER}"));
    let dom = chromium(url.clone(), vec!["--dump-dom".into()]).await;
    assert!(
        dom.contains("data-ready="),
        "the console did not load:\n{dom}"
    );
    let stats: Value = app.admin_json("/v1/admin/stats").await;
    for name in [
        "realtime.depth",
        "realtime.delivered",
        "backfill.depth",
        "backfill.delivered",
        "reconciliation_depth",
        "quarantine_open",
        "dead_letters_open",
        "dispatched",
    ] {
        let pointer = format!("/{}", name.replace('.', "/"));
        let expected = stats.pointer(&pointer).and_then(Value::as_i64).unwrap();
        assert_eq!(count_of(&dom, name), expected, "{name}");
    }
    assert_eq!(count_of(&dom, "realtime.delivered"), 3, "the seed is there");
    assert_eq!(count_of(&dom, "quarantine_open"), 3);
    // The breakdown and the series.
    assert_eq!(count_of(&dom, "quarantine.reason.unknown_attribute"), 1);
    assert_eq!(
        count_of(&dom, &format!("campaign.{CAMPAIGN}.handed_over_24h")),
        1
    );
    assert_eq!(count_of(&dom, "cooldowns_running"), 1);
    assert_eq!(count_of(&dom, "deferred.within_6h"), 1);
    assert_eq!(count_of(&dom, "series.delivered_15m"), 5);
    assert_eq!(count_of(&dom, "decisions.hour.eligible"), 1);
    assert_eq!(count_of(&dom, "decisions.day.insufficient_rise"), 1);
    // The contact search ran from `?contact=` and shows the latest reason.
    let explained: Value = app.admin_json(&format!("/v1/contacts/{CONTACT}")).await;
    let latest = explained["decisions"][0]["reason"].as_str().unwrap();
    assert_eq!(
        metric(&dom, "contact.latest_reason").as_deref(),
        Some(latest)
    );
    assert_eq!(latest, "eligible");
    let listed = |key: &str| explained[key].as_array().unwrap().len() as i64;
    assert_eq!(count_of(&dom, "contact.decisions"), listed("decisions"));
    assert_eq!(count_of(&dom, "contact.events"), listed("events"));
    assert_eq!(
        metric(&dom, "contact.decisions.0.rise").as_deref(),
        explained["decisions"][0]["rise"]
            .as_f64()
            .map(|r| r.to_string())
            .as_deref()
    );
    assert!(
        dom.contains(r#"<svg viewBox="0 0 720 200""#),
        "the charts are drawn"
    );
    // The change log answers, or says it is not there.
    assert!(dom.contains("data-ready=\"all breakdown changes contact decisions series stats\""));

    if let Ok(path) = std::env::var("PESYNC_CONSOLE_SCREENSHOT") {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
        let shot = vec![
            format!("--screenshot={}", path.display()),
            "--window-size=1400,1800".into(),
            "--hide-scrollbars".into(),
        ];
        chromium(url, shot).await;
        assert!(path.exists(), "no screenshot at {}", path.display());
    }
}

#[tokio::test]
async fn a_refused_token_asks_for_another() {
    if !chromium_available() {
        return;
    }
    let app = spawn_app().await;
    let dom = chromium(
        app.url("/console#token=not-a-token-of-this-service-0123456789"),
        vec!["--dump-dom".into()],
    )
    .await;
    assert!(dom.contains("The token was refused."), "{dom}");
    assert!(dom.contains(r#"<main id="console" hidden="""#), "{dom}");
}

#[tokio::test]
async fn the_docs_show_the_operations_in_a_browser() {
    if !chromium_available() {
        return;
    }
    let app = spawn_app().await;
    let dom = chromium(app.url("/docs"), vec!["--dump-dom".into()]).await;
    let openapi: Value = app
        .get_as("/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    // Redoc lists every tag in its menu and renders the operations as they scroll into view: the
    // first tag's (`operations`) are in the DOM at once, each with its path.
    let mut tags = std::collections::BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for op in item.as_object().unwrap().values() {
            let tag = op["tags"][0].as_str().unwrap();
            tags.insert(tag.to_owned());
            if tag == "operations" {
                assert!(
                    dom.contains(&format!(">{path}<")),
                    "/docs does not show {path}"
                );
            }
        }
    }
    assert!(tags.len() > 10, "{tags:?}");
    for tag in &tags {
        assert!(
            dom.contains(&format!(">{tag}<")),
            "/docs does not list {tag}"
        );
    }
}

/// Every `pesync_…` name in the dashboard's queries.
fn dashboard_metrics() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana/pesync.json");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut exprs = Vec::new();
    collect_exprs(&doc, &mut exprs);
    assert!(exprs.len() >= 10, "the dashboard has its queries");
    let mut names: Vec<String> = exprs
        .iter()
        .flat_map(|e| {
            e.match_indices("pesync_").map(move |(i, _)| {
                e[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn collect_exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query", Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_metric_the_grafana_dashboard_queries_exists() {
    let app = spawn_app().await;
    let text = app.metrics_text().await;
    let names = dashboard_metrics();
    for name in &names {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "docs/grafana/pesync.json queries {name}, which /metrics does not have"
        );
    }
    assert!(names.len() >= 10, "{names:?}");
}
