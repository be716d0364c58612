//! `pesync bench delivery`: (1) delivery throughput to an unthrottled simulator, (2) how much of a
//! throttled ceiling delivery uses while a backlog exists, and whether it ever exceeds it.
//!
//! Events are ingested through the real HTTP API by an instance without delivery, then a second
//! instance with delivery workers starts on the same database, as a `pesync serve` child process,
//! and the clock runs until the simulator has them all: what is measured is delivery alone (the
//! child's start-up included). The peak RSS reported is the delivering child's, the most of any run.
//!
//! `--target external-events` measures the batched External Events target instead (issue 10 §3):
//! the simulator's org is set up through its real endpoints first (`sim_org`), and utilisation is
//! events/s against the ceiling × `--batch`, since the ceiling still counts requests.

mod instances;

use std::path::Path;
use std::time::{Duration, Instant};

use super::median;
use super::scratch::ScratchDb;
use crate::app::config::Settings;
use crate::genesys::EventsTarget;
use crate::simulator::{Endpoint, Simulator, SimulatorConfig, SimulatorHandle};
use instances::{ingest, set_up_org, start_delivery};

#[derive(Debug, clap::Args)]
pub struct DeliveryArgs {
    /// Events per throughput run.
    #[arg(long, default_value_t = 20_000)]
    pub events: usize,
    /// Distinct contacts the events are spread over.
    #[arg(long, default_value_t = 2_000)]
    pub contacts: usize,
    /// The throttled ceiling (requests/s) for the utilisation run.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Seconds the utilisation run measures (after the first delivery plus a 1 s warm-up).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Repetitions of each measurement.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Where events go: `pe` (one event a request, SPEC §5) or `external-events` (batched).
    #[arg(long, default_value = "pe", value_parser = EventsTarget::parse)]
    pub target: EventsTarget,
    /// Entities per External Events request (`PESYNC_GENESYS_EVENTS_BATCH`).
    #[arg(long, default_value_t = crate::genesys::target::DEFAULT_EVENTS_BATCH, value_parser = batch_size)]
    pub batch: usize,
}

/// `--batch`: as `PESYNC_GENESYS_EVENTS_BATCH` allows.
fn batch_size(text: &str) -> Result<usize, String> {
    let max = crate::genesys::target::MAX_EVENTS_BATCH;
    match text.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("an integer from 1 to {max}")),
    }
}

/// The target and batch size a run delivers with.
#[derive(Debug, Clone, Copy)]
struct Target {
    events: EventsTarget,
    batch: usize,
}

impl Target {
    /// Events one request carries at most: what the ceiling is multiplied by.
    fn per_request(self) -> f64 {
        match self.events {
            EventsTarget::Pe => 1.0,
            EventsTarget::ExternalEvents => self.batch as f64,
        }
    }

    /// Events the simulator took in so far.
    fn accepted(self, sim: &SimulatorHandle) -> u64 {
        let stats = sim.state.stats();
        match self.events {
            EventsTarget::Pe => stats.events_accepted,
            EventsTarget::ExternalEvents => stats.external_events_accepted,
        }
    }
}

pub async fn run(a: DeliveryArgs, settings: Settings) -> anyhow::Result<()> {
    let target = Target {
        events: a.target,
        batch: a.batch,
    };
    println!(
        "target {}{}",
        a.target.as_str(),
        match a.target {
            EventsTarget::Pe => String::new(),
            EventsTarget::ExternalEvents => format!(", {} entities a request at most", a.batch),
        }
    );
    // The delivering children's logs; each child's peak RSS covers its whole life.
    let logs = super::child::log_dir("bench-delivery")?;
    let mut peaks = Vec::new();
    let mut throughput = Vec::new();
    for i in 0..a.runs {
        let (eps, peak) = throughput_run(&settings, target, a.events, a.contacts, &logs).await?;
        peaks.extend(peak);
        println!(
            "throughput run {}: {} events in {:.0} events/s",
            i + 1,
            a.events,
            eps
        );
        throughput.push(eps);
    }
    let ceiling = a.rate * target.per_request();
    let mut utilisation = Vec::new();
    let mut busiest = Vec::new();
    for i in 0..a.runs {
        let (u, max, peak) = utilisation_run(&settings, target, a.rate, a.seconds, &logs).await?;
        peaks.extend(peak);
        println!(
            "utilisation run {}: {:.1} % of {} req/s × {} = {} events/s ({:.0} events/s), busiest second {} requests",
            i + 1,
            u * 100.0,
            a.rate,
            target.per_request(),
            ceiling,
            u * ceiling,
            max
        );
        utilisation.push(u);
        busiest.push(max);
    }
    println!(
        "median delivery throughput (unthrottled sink): {:.0} events/s",
        median(throughput)
    );
    let u = median(utilisation);
    println!(
        "median utilisation of a {} req/s ceiling × {} events a request with a backlog: {:.1} % ({:.0} of {} events/s); busiest second of all runs: {} requests",
        a.rate,
        target.per_request(),
        u * 100.0,
        u * ceiling,
        ceiling,
        busiest.iter().max().copied().unwrap_or(0)
    );
    println!(
        "peak RSS of the service process (the delivering pesync serve, the most of any run): {}",
        super::cpu::mib_text(peaks.into_iter().reduce(f64::max))
    );
    super::child::report_logs(&logs);
    Ok(())
}

async fn throughput_run(
    base: &Settings,
    target: Target,
    n: usize,
    contacts: usize,
    logs: &Path,
) -> anyhow::Result<(f64, Option<f64>)> {
    let db = ScratchDb::create(&base.database_url).await?;
    ingest(base, &db, n, contacts).await?;
    // Let every event's ordering hold pass so only delivery is timed.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    set_up_org(&db, &sim, target).await?;
    let started = Instant::now();
    let delivering = start_delivery(&db, &sim, 1_000_000.0, target, logs).await?;
    while target.accepted(&sim) < n as u64 {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "delivery stalled"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let peak = delivering.stop().await?;
    sim.stop().await;
    db.drop_db().await?;
    Ok((n as f64 / secs, peak))
}

/// Events/s delivered while a backlog exists, as a share of the ceiling × events per request, the
/// most requests the simulator admitted in any sliding second, and the delivering child's peak RSS.
async fn utilisation_run(
    base: &Settings,
    target: Target,
    rate: f64,
    seconds: u64,
    logs: &Path,
) -> anyhow::Result<(f64, u64, Option<f64>)> {
    let db = ScratchDb::create(&base.database_url).await?;
    // A backlog larger than the run can drain.
    let backlog = (rate * target.per_request() * (seconds as f64 + 10.0)) as usize;
    ingest(base, &db, backlog, backlog).await?;
    let sim = Simulator::start(SimulatorConfig::default()).await?;
    set_up_org(&db, &sim, target).await?;
    let delivering = start_delivery(&db, &sim, rate, target, logs).await?;
    // Warm up until sending is under way (the first events wait out their ordering hold), then
    // one more second, so the measured window is all steady state.
    while target.accepted(&sim) < 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = target.accepted(&sim);
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let delivered = target.accepted(&sim) - before;
    let achieved = delivered as f64 / t0.elapsed().as_secs_f64();
    anyhow::ensure!(
        (delivered as usize) < backlog,
        "the backlog ran out during the measurement"
    );
    // Without the bench's own setup requests (`sim_org`), which pesync did not send.
    let busiest = sim
        .state
        .max_admitted_in_any_second_except(Endpoint::Journey);
    if std::env::var("PESYNC_BENCH_TRACE").is_ok() {
        let reqs = sim.state.requests();
        let reqs: Vec<_> = reqs
            .iter()
            .filter(|r| r.endpoint != Endpoint::Journey)
            .collect();
        let first = reqs.first().map_or(0, |r| r.at_ms);
        let secs: Vec<usize> = (0..(seconds as i64 + 3))
            .map(|s| {
                reqs.iter()
                    .filter(|r| (r.at_ms - first) / 1000 == s)
                    .count()
            })
            .collect();
        println!("requests per second since the first: {secs:?}");
    }
    let peak = delivering.stop().await?;
    sim.stop().await;
    db.drop_db().await?;
    Ok((
        achieved / (rate * target.per_request()),
        busiest as u64,
        peak,
    ))
}
