//! The Genesys Cloud simulator (SPEC §10): the OAuth token endpoint, the Predictive Engagement
//! events and contact-profile endpoints, the outbound contact-list endpoint, and the real External
//! Events API with its setup objects (`journey`), with a rate ceiling,
//! injectable failures and latency, and an inspection/control API under `/_sim`.
//!
//! Tests start it in-process on port 0 with [`Simulator::start`]; `pesync simulate` runs it with
//! [`run_forever`]. One port serves both the "login" and the "api" host of a Genesys region.

mod control;
mod dialer;
mod event_check;
mod events;
mod gate;
mod journey;
pub(crate) mod model;
mod oauth;
mod profiles;
mod response;
mod state;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tokio::task::JoinHandle;

pub use control::{ControlError, FailScope, FailSpec};
pub use dialer::{DialerList, MAX_CONTACTS_PER_REQUEST, StoredDialerContact};
pub use events::SimEvent;
pub use journey::{
    ExternalEventFailures, ExternalEventsConfiguration, ExternalEventsSchema, ExternalSource,
    JourneyView, SimExternalEvent,
};
pub use profiles::{ContactWindow, Profile, ProfileOverride, ScorePoint};
pub use state::{ConfigPatch, Endpoint, RequestRecord, RuntimeConfig, SimState, SimStats};

/// Request bodies up to this size are read; a full dialer batch of 1,000 contacts is well below it.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How the simulator starts. Everything but `listen` and the credentials can be changed later
/// through `POST /_sim/config` or [`SimState::update_config`].
#[derive(Clone)]
pub struct SimulatorConfig {
    /// `127.0.0.1:0` lets the OS pick a free port (tests).
    pub listen: SocketAddr,
    pub client_id: String,
    pub client_secret: String,
    /// Lifetime of issued tokens (Genesys default: 24 h).
    pub token_ttl_secs: u64,
    /// Ceiling on counted requests per 1-second window; `None` = unthrottled.
    pub rate_limit_per_sec: Option<u32>,
    pub latency_ms: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            client_id: "pesync-simulator".to_owned(),
            client_secret: "pesync-simulator-secret".to_owned(),
            token_ttl_secs: 86_400,
            rate_limit_per_sec: None,
            latency_ms: 0,
        }
    }
}

/// Hand-written so the client secret never reaches a log line.
impl fmt::Debug for SimulatorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("listen", &self.listen)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("token_ttl_secs", &self.token_ttl_secs)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("latency_ms", &self.latency_ms)
            .finish()
    }
}

pub struct Simulator;

impl Simulator {
    /// Binds, starts serving in the background and answers once the port is known.
    /// Must be called inside a Tokio runtime.
    pub async fn start(config: SimulatorConfig) -> anyhow::Result<SimulatorHandle> {
        let (server, addr, state) = build(&config, false)?;
        let handle = server.handle();
        let task = tokio::spawn(server);
        let base_url = format!("http://{addr}");
        tracing::debug!(%base_url, "simulator started");
        Ok(SimulatorHandle {
            base_url,
            port: addr.port(),
            state,
            server: handle,
            task: Some(task),
        })
    }

    /// Serves until the process is interrupted (Ctrl-C / SIGTERM): `pesync simulate`.
    pub async fn run_forever(config: SimulatorConfig) -> anyhow::Result<()> {
        let (server, addr, _state) = build(&config, true)?;
        tracing::info!(base_url = %format!("http://{addr}"), ?config, "Genesys simulator listening");
        server.await.context("simulator server failed")
    }
}

/// `pesync simulate`: see [`Simulator::run_forever`].
pub async fn run_forever(config: SimulatorConfig) -> anyhow::Result<()> {
    Simulator::run_forever(config).await
}

/// A running in-process simulator. Dropping it stops the server too, without waiting.
pub struct SimulatorHandle {
    /// `http://127.0.0.1:PORT`: both the PE/outbound base URL and the host of the token endpoint.
    pub base_url: String,
    pub port: u16,
    pub state: Arc<SimState>,
    server: ServerHandle,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimulatorHandle {
    /// The OAuth token endpoint (`PESYNC_PE_TOKEN_URL`).
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }

    /// Stops accepting, lets requests in flight finish (at most 1 s) and waits for the server.
    pub async fn stop(mut self) {
        self.server.stop(true).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if self.task.is_some() {
            // The stop command is sent when `stop` is called; the returned future only awaits it.
            drop(self.server.stop(false));
        }
    }
}

fn build(
    config: &SimulatorConfig,
    handle_signals: bool,
) -> anyhow::Result<(Server, SocketAddr, Arc<SimState>)> {
    let listener =
        TcpListener::bind(config.listen).with_context(|| format!("binding {}", config.listen))?;
    let mut addr = listener.local_addr().context("reading the bound address")?;
    if addr.ip().is_unspecified() {
        addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let state = Arc::new(SimState::new(config));
    let data = web::Data::from(Arc::clone(&state));
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
        // Two workers: the handlers are short and lock-bound, more threads would only contend.
        .workers(2)
        .shutdown_timeout(1)
        .listen(listener)
        .context("starting the simulator server")?;
    let server = if handle_signals {
        server
    } else {
        server.disable_signals()
    };
    Ok((server.run(), addr, state))
}

/// Every route of the simulator.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    const PE: &str = "/api/v2/analytics/predictiveengagement";
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .route("/oauth/token", web::post().to(oauth::token))
        .route(&format!("{PE}/events"), web::post().to(events::post_event))
        .route(
            &format!("{PE}/contacts/{{contactId}}"),
            web::get().to(profiles::get_profile),
        )
        .route(
            "/api/v2/outbound/contactlists/{contactListId}/contacts",
            web::post().to(dialer::post_contacts),
        )
        .configure(journey::routes)
        .configure(control::routes)
        .default_service(web::to(not_found));
}

/// Unknown paths and methods answer with a Genesys error body, like the real API.
async fn not_found() -> HttpResponse {
    gate::render(
        response::SimResponse::error(404, "The requested resource was not found."),
        None,
    )
}
