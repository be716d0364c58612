//! `spawn_app()`: the real application on port 0 against a fresh database, with an injected clock.

use std::sync::{Arc, Once};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use pesync::app::config::Settings;
use pesync::app::startup::Application;
use pesync::ingest::signature;
use pesync::platform::clock::{Clock, ManualClock, OffsetClock};
use pesync::simulator::{Simulator, SimulatorConfig, SimulatorHandle};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

pub const ADMIN: &str = "test-admin-token-0123456789abcdef";
pub const VIEWER: &str = "test-viewer-token-0123456789abcdef";
/// May only post scores (`PESYNC_SCORER_TOKEN`).
pub const SCORER: &str = "test-scorer-token-0123456789abcdef";
/// `PESYNC_SECRET_KEY` of every test app: fixed, so an app restarted on its database opens its rows.
pub const SECRET_KEY: &str = "cGVzeW5jLWludGVncmF0aW9uLXRlc3RzLWtleS0zMmI=";
pub const SECRET: &str = "a-signing-secret-of-some-length";

/// Where test databases are created: `PESYNC_TEST_DATABASE_URL`, else local PostgreSQL.
fn server_url() -> String {
    std::env::var("PESYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static CLEANUP: Once = Once::new();

/// Drops the databases earlier test runs left behind (once per test binary, before any test made one).
/// Only those created over three hours ago (the epoch seconds in their name say when): a test run
/// going on at the same time, in another work tree, keeps its own.
fn drop_stale_databases() {
    CLEANUP.call_once(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let Ok(mut c) = PgConnection::connect(&format!("{}/postgres", server_url())).await
                else {
                    return;
                };
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT datname::text FROM pg_database WHERE datname LIKE 'pesync\\_test\\_%'",
                )
                .fetch_all(&mut c)
                .await
                .unwrap_or_default();
                let now = chrono::Utc::now().timestamp();
                for n in names.into_iter().filter(|n| is_stale(n, now)) {
                    let _ = c
                        .execute(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{n}\" WITH (FORCE)"
                        )))
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    });
}

/// `pesync_test_<epoch seconds>_<uuid>`: stale when over three hours old; a name without the time
/// (an older run's) is stale too.
fn is_stale(name: &str, now: i64) -> bool {
    let created = name
        .strip_prefix("pesync_test_")
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(secs, _)| secs.parse::<i64>().ok());
    created.is_none_or(|t| now - t > 3 * 3600)
}

pub async fn fresh_database() -> (String, PgPool) {
    drop_stale_databases();
    let name = format!(
        "pesync_test_{}_{}",
        chrono::Utc::now().timestamp(),
        uuid::Uuid::new_v4().simple()
    );
    let url = format!("{}/{name}", server_url());
    let pool = pesync::platform::db::connect_and_migrate(&SecretString::from(url.clone()))
        .await
        .expect("test database");
    (url, pool)
}

/// The app's clock: standing still (ingestion tests) or running from a movable offset (tests with
/// background workers, which need time to pass).
pub enum TestClock {
    Manual(Arc<ManualClock>),
    Offset(Arc<OffsetClock>),
}

impl TestClock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Manual(c) => c.now(),
            Self::Offset(c) => c.now(),
        }
    }
    pub fn advance(&self, by: chrono::Duration) {
        match self {
            Self::Manual(c) => c.advance(by),
            Self::Offset(c) => c.advance(by),
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub pool: PgPool,
    /// What the handlers and jobs share: tests drive `poll_once` / `evaluate_once` with it.
    pub state: actix_web::web::Data<pesync::platform::context::AppState>,
    /// The Genesys tenant: its client drives `poll_once` and the push.
    pub tenant: actix_web::web::Data<pesync::admin::tenant::Tenant>,
    pub stats_cache: actix_web::web::Data<pesync::admin::stats::StatsCache>,
    pub clock: TestClock,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    /// The app's `run_until`, awaited by `stop`.
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn test_settings(db_url: &str) -> Settings {
    Settings {
        database_url: SecretString::from(db_url.to_owned()),
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some(SecretString::from(ADMIN)),
        viewer_token: Some(SecretString::from(VIEWER)),
        scorer_token: Some(SecretString::from(SCORER)),
        secret_key: Some(pesync::platform::secrets::SecretKey::from_base64(SECRET_KEY).unwrap()),
        // Tests drive the scheduled jobs themselves (`poll_once`, `evaluate_once`); a cron firing
        // mid-test would race them.
        poll_cron: "off".into(),
        evaluate_cron: "off".into(),
        prune_cron: "off".into(),
        monitors: pesync::domain::monitors::MonitorSettings {
            watch_cron: "off".into(),
            ..Default::default()
        },
        ..Settings::default()
    }
}

pub async fn spawn_app() -> TestApp {
    let (db_url, pool) = fresh_database().await;
    spawn_app_on(db_url, pool).await
}

pub async fn spawn_app_on(db_url: String, pool: PgPool) -> TestApp {
    let clock = ManualClock::new(Utc::now());
    let settings = test_settings(&db_url);
    start(settings, pool, TestClock::Manual(clock)).await
}

/// A simulator with the test credentials and no ceiling of its own unless `sim_rate` is given.
pub async fn spawn_simulator(sim_rate: Option<u32>) -> SimulatorHandle {
    Simulator::start(SimulatorConfig {
        rate_limit_per_sec: sim_rate,
        ..SimulatorConfig::default()
    })
    .await
    .expect("simulator starts")
}

/// Settings pointing at a simulator, with pesync's own ceiling at `rate` requests/s.
pub fn settings_for_sim(db_url: &str, sim: &SimulatorHandle, rate: f64) -> Settings {
    let defaults = SimulatorConfig::default();
    Settings {
        pe_base_url: Some(sim.base_url.clone()),
        pe_token_url: Some(sim.token_url()),
        pe_client_id: Some(defaults.client_id.clone()),
        pe_client_secret: Some(SecretString::from(defaults.client_secret.clone())),
        pe_rate_limit: rate,
        ..test_settings(db_url)
    }
}

/// The app with delivery workers talking to `sim`, on a fresh database and a running clock.
pub async fn spawn_app_with_sim(sim: &SimulatorHandle, rate: f64) -> TestApp {
    let (db_url, pool) = fresh_database().await;
    spawn_app_with_sim_on(sim, rate, db_url, pool).await
}

pub async fn spawn_app_with_sim_on(
    sim: &SimulatorHandle,
    rate: f64,
    db_url: String,
    pool: PgPool,
) -> TestApp {
    let settings = settings_for_sim(&db_url, sim, rate);
    start(settings, pool, TestClock::Offset(OffsetClock::new())).await
}

/// The app with these settings (see `test_settings`, `settings_for_sim`) and clock.
pub async fn start(settings: Settings, pool: PgPool, clock: TestClock) -> TestApp {
    start_with(settings, pool, clock, |_| {}).await
}

/// `start`, with the delivery workers' configuration adjusted by `worker`.
pub async fn start_with(
    settings: Settings,
    pool: PgPool,
    clock: TestClock,
    worker: impl FnOnce(&mut pesync::delivery::WorkerConfig),
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        pesync::platform::telemetry::init(pesync::platform::telemetry::DEFAULT);
    }
    let shared: pesync::platform::clock::SharedClock = match &clock {
        TestClock::Manual(c) => c.clone(),
        TestClock::Offset(c) => c.clone(),
    };
    let app = Application::build(&settings, pool.clone(), shared)
        .await
        .expect("app builds")
        .with_worker_config(|w| {
            w.lease = chrono::Duration::seconds(5);
            worker(w);
        });
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let tenant = app.tenant();
    let stats_cache = app.stats_cache();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run_until(shutdown.clone()));
    TestApp {
        address,
        pool,
        state,
        tenant,
        stats_cache,
        clock,
        client: reqwest::Client::new(),
        shutdown,
        task: Some(task),
    }
}

impl TestApp {
    /// Cancels the app as SIGTERM does and waits until `run_until` returns; answers how long that
    /// took.
    pub async fn stop(&mut self) -> StdDuration {
        let began = std::time::Instant::now();
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.expect("run_until").expect("a clean stop");
        }
        let took = began.elapsed();
        // The app's HTTP workers run on runtimes of their own, and the pooled connections they
        // opened die with those runtimes (a query on one fails with "Tokio context being
        // shutdown"): the test reads on, or starts the next app, through a fresh pool.
        let options = (*self.pool.connect_options()).clone();
        self.pool = pesync::platform::db::pool_options()
            .max_connections(10)
            .connect_lazy_with(options);
        took
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET with this bearer token, or with none.
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut rb = self.client.get(self.url(path));
        if let Some(token) = token {
            rb = rb.bearer_auth(token);
        }
        rb.send().await.unwrap()
    }

    /// `/metrics` as text (it needs no token).
    pub async fn metrics_text(&self) -> String {
        let response = self.get_as("/metrics", None).await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.get_as(path, Some(ADMIN)).await
    }

    /// A GET with the admin token, its body read as JSON.
    pub async fn admin_json(&self, path: &str) -> Value {
        self.admin_get(path).await.json().await.unwrap()
    }

    /// Changes one setting of the active thresholds (a new version), asserting it was taken.
    pub async fn set_threshold(&self, field: &str, value: Value) {
        let mut t = self.admin_json("/v1/admin/thresholds").await;
        t[field] = value;
        let r = self.admin_put("/v1/admin/thresholds", &t).await;
        assert_eq!(r.status(), 200, "thresholds {field}");
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates (or replaces) a source with the test secret and a mapping.
    pub async fn create_source(&self, name: &str, mapping: Value) {
        let r = self
            .admin_put(
                &format!("/v1/admin/sources/{name}"),
                &json!({"signing_secret": SECRET, "mapping": mapping}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    /// Posts a raw body to a source, signed with the test secret at the app's clock time.
    pub async fn post_raw(
        &self,
        source: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let t = self.now().timestamp();
        self.post_signed_at(source, content_type, body, t).await
    }

    /// Posts a raw body signed as of unix time `t`.
    pub async fn post_signed_at(
        &self,
        source: &str,
        content_type: &str,
        body: Vec<u8>,
        t: i64,
    ) -> reqwest::Response {
        let header = signature::header_value(SECRET.as_bytes(), t, &body);
        self.client
            .post(self.url(&format!("/v1/sources/{source}/events")))
            .header("Content-Type", content_type)
            .header(signature::HEADER, header)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Posts a JSON body and returns the `results` array (asserting 200).
    pub async fn ingest(&self, source: &str, body: &Value) -> Vec<Value> {
        let r = self
            .post_raw(
                source,
                "application/json",
                serde_json::to_vec(body).unwrap(),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        self.inbox_drained().await;
        v["results"].as_array().unwrap().clone()
    }

    /// Waits until the inbox drain has moved every committed request into the delivery queue
    /// (woken by the commit, it runs some 20 ms later), so a test may claim at once.
    pub async fn inbox_drained(&self) {
        eventually(
            StdDuration::from_secs(10),
            "the delivery inbox drained",
            || async {
                !sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM delivery_inbox)")
                    .fetch_one(&self.pool)
                    .await
                    .unwrap()
            },
        )
        .await;
    }
}

/// An event in the shape a source sends, with a timestamp relative to `now`.
pub fn event(contact: &str, record: &str, at: DateTime<Utc>) -> Value {
    json!({
        "contact_id": contact,
        "event_type": "crm.transaction",
        "event_timestamp": at.to_rfc3339(),
        "attributes": {"transaction_value": 2450.00, "product_category": "enterprise_license",
                       "payment_status": "captured", "crm_record_id": record, "channel_origin": "web_portal"}
    })
}

/// Asserts a response is a problem document with this status and returns it.
pub async fn assert_problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status);
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], status);
    assert!(
        v["type"]
            .as_str()
            .unwrap()
            .starts_with("https://pesync.dev/problems/")
    );
    v
}

/// Polls `check` every 50 ms until it holds or `timeout` passes; panics with `what` on timeout.
pub async fn eventually<F, Fut>(timeout: StdDuration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        // Often: `TestApp::ingest` waits on the inbox drain this way after every request.
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

/// Waits (up to 90 s: a loaded CI machine can push a few retries into backoff; a passing test
/// returns early) until the simulator holds `n` events.
pub async fn wait_for_events(sim: &SimulatorHandle, n: usize) {
    eventually(
        StdDuration::from_secs(90),
        &format!("{n} events at the simulator"),
        || async { sim.state.events().len() >= n },
    )
    .await;
}
