//! Secrets (issue 8, defect 8): signing secrets sealed at rest under `PESYNC_SECRET_KEY`, plain-text
//! rows sealed at the first start, a wrong key or a short token refused at start, and audit records
//! that name the token.

use std::process::Command;

use chrono::Duration;
use pesync::app::startup::Application;
use pesync::platform::secrets::SecretKey;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::*;

/// Every text form of the `sources` rows, as a reporting user or a backup would see them.
async fn sources_as_text(pool: &PgPool) -> String {
    let rows: Vec<String> = sqlx::query_scalar("SELECT s::text FROM sources s ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap();
    rows.join("\n")
}

async fn sealed_bytes(pool: &PgPool, name: &str) -> Option<Vec<u8>> {
    sqlx::query_scalar("SELECT signing_secret_sealed FROM sources WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A signed event is accepted: the source's secret opened and verified.
async fn assert_signed_event_accepted(app: &TestApp, source: &str, record: &str) {
    let r = app
        .ingest(
            source,
            &json!([event("c-1", record, app.now() - Duration::minutes(1))]),
        )
        .await;
    assert_eq!(r[0]["status"], "accepted", "{r:?}");
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(SECRET), "the secret shows: {text}");
    let hex = hex::encode(SECRET);
    assert!(!text.contains(&hex), "the secret shows in hex: {text}");
}

#[tokio::test]
async fn signing_secrets_are_stored_sealed_and_signatures_still_verify() {
    let app = spawn_app().await;
    app.create_source("crm", json!({})).await;
    assert_no_secret(&sources_as_text(&app.pool).await);
    let plain: Option<String> =
        sqlx::query_scalar("SELECT signing_secret FROM sources WHERE name = 'crm'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(plain, None);
    let sealed = sealed_bytes(&app.pool, "crm").await.expect("sealed");
    let key = SecretKey::from_base64(SECRET_KEY).unwrap();
    assert!(key.open(&sealed, b"crm").is_ok());
    assert_signed_event_accepted(&app, "crm", "R1").await;
    // A wrong signature is still refused.
    let body = serde_json::to_vec(&json!([])).unwrap();
    let header =
        pesync::ingest::signature::header_value(b"another-secret", app.now().timestamp(), &body);
    let r = app
        .client
        .post(app.url("/v1/sources/crm/events"))
        .header("Content-Type", "application/json")
        .header(pesync::ingest::signature::HEADER, header)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_problem(r, 401).await;
}

#[tokio::test]
async fn a_plain_text_row_is_sealed_at_the_first_start_once() {
    let (db_url, pool) = fresh_database().await;
    // A source as stored before encryption.
    sqlx::query(
        "INSERT INTO sources (name, signing_secret, mapping_version, created_at, updated_at)
         VALUES ('legacy', $1, 1, now(), now())",
    )
    .bind(SECRET)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO source_mappings (source, version, mapping, created_at)
         VALUES ('legacy', 1, '{}', now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(sources_as_text(&pool).await.contains(SECRET));

    let app = spawn_app_on(db_url.clone(), pool.clone()).await;
    assert_no_secret(&sources_as_text(&pool).await);
    let first = sealed_bytes(&pool, "legacy")
        .await
        .expect("sealed at start");
    assert_signed_event_accepted(&app, "legacy", "R1").await;

    // A second start finds nothing to seal and leaves the row alone.
    let again = spawn_app_on(db_url, pool.clone()).await;
    assert_eq!(sealed_bytes(&pool, "legacy").await.unwrap(), first);
    assert_signed_event_accepted(&again, "legacy", "R2").await;
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_start_up_error() {
    let (db_url, pool) = fresh_database().await;
    let app = spawn_app_on(db_url.clone(), pool.clone()).await;
    app.create_source("crm", json!({})).await;
    let settings = pesync::app::config::Settings {
        secret_key: Some(SecretKey::generate()),
        ..test_settings(&db_url)
    };
    let clock = std::sync::Arc::new(pesync::platform::clock::SystemClock);
    let e = Application::build(&settings, pool.clone(), clock.clone())
        .await
        .err()
        .expect("a wrong key must not start");
    let e = format!("{e:#}");
    assert!(
        e.contains("PESYNC_SECRET_KEY does not open") && e.contains("\"crm\""),
        "{e}"
    );
    assert_no_secret(&e);

    let no_key = pesync::app::config::Settings {
        secret_key: None,
        ..test_settings(&db_url)
    };
    let e = Application::build(&no_key, pool, clock)
        .await
        .err()
        .unwrap();
    assert!(
        format!("{e:#}").contains("PESYNC_SECRET_KEY must be set"),
        "{e:#}"
    );
}

#[tokio::test]
async fn short_tokens_are_refused_at_start() {
    let (db_url, pool) = fresh_database().await;
    let clock = std::sync::Arc::new(pesync::platform::clock::SystemClock);
    for (admin, viewer, var) in [
        ("change-me", VIEWER, "PESYNC_ADMIN_TOKEN"),
        (ADMIN, "short-viewer", "PESYNC_VIEWER_TOKEN"),
    ] {
        let settings = pesync::app::config::Settings {
            admin_token: Some(admin.into()),
            viewer_token: Some(viewer.into()),
            ..test_settings(&db_url)
        };
        let e = Application::build(&settings, pool.clone(), clock.clone())
            .await
            .err()
            .expect("a short token must not start");
        let e = format!("{e:#}");
        assert!(e.contains(var) && e.contains("at least 32"), "{e}");
    }
}

/// `pesync serve` as an operator runs it: `change-me` and a missing key stop it with a clear error,
/// before it touches the database.
#[test]
fn serve_refuses_change_me_and_a_missing_key() {
    let serve = |admin: &str, key: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pesync"));
        c.arg("serve")
            .env_clear()
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("PESYNC_ADMIN_TOKEN", admin);
        if let Some(k) = key {
            c.env("PESYNC_SECRET_KEY", k);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = serve("change-me", Some(SECRET_KEY));
    assert!(e.contains("PESYNC_ADMIN_TOKEN must be at least 32"), "{e}");
    let e = serve(ADMIN, None);
    assert!(e.contains("PESYNC_SECRET_KEY must be set"), "{e}");
    let e = serve(ADMIN, Some("too-short"));
    assert!(e.contains("PESYNC_SECRET_KEY must be"), "{e}");
    assert!(!e.contains("too-short"), "{e}");
}

#[tokio::test]
async fn the_audit_record_names_the_token_by_fingerprint() {
    let app = spawn_app().await;
    app.set_threshold("min_rise", json!(0.2)).await;
    let h: Value = app.admin_json("/v1/admin/thresholds/history").await;
    let items = h["items"].as_array().unwrap();
    assert_eq!(items[0]["changed_by"], "migration");
    assert_eq!(items[0]["changed_by_token"], Value::Null);
    assert_eq!(items[1]["changed_by"], "admin");
    let fingerprint = pesync::platform::secrets::fingerprint(ADMIN.as_bytes());
    assert_eq!(items[1]["changed_by_token"], fingerprint.as_str());
    assert!(!h.to_string().contains(ADMIN));
}
