//! `pesync bench faults`: the fault-injection suite (issue 8). Runs this very binary as
//! `pesync serve` children against scratch databases on the configured PostgreSQL and an
//! in-process Genesys simulator, injects each fault under load, and prints, per fault: events
//! accepted / delivered / lost / delivered under another request id, order violations, 5xx answers
//! and time to recover; then the abuse cases (status and time per request) and a schemathesis run.
//! Exits non-zero when any of lost, wrong id, 5xx, order violations is not 0 or an abuse case or
//! schemathesis failed. Figures and commands: `docs/RELIABILITY.md`.

mod abuse;
mod bed;
mod dialer;
mod gzip;
mod load;
mod postgres;
mod proxy;
mod report;
mod scenarios;
mod schemathesis;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use self::abuse::AbuseRow;
use self::bed::Bed;
use self::load::Tally;
use self::report::{print_abuse, print_faults};
use crate::app::config::Settings;
use crate::tools::bench::child::{Service, free_port};
use crate::tools::bench::scratch::ScratchDb;

pub const LONG_ABOUT: &str = "The fault-injection suite (issue 8). Runs the built binary as `pesync serve` children against scratch databases on the DATABASE_URL server and an in-process Genesys simulator, injects faults under load and prints one table: events accepted / delivered / lost / re-sent under another id, order violations, 5xx answers, time to recover; then the abuse cases (forged signature, gzip bomb, 200 concurrent scrapes, slow body) and a schemathesis run against the served OpenAPI document.\n\n\
Quick mode (default, CI): kill -9 ×3, the abuse cases, 60 s of schemathesis.\n\
Long mode (--long): kill -9 ×20, two instances with one killed (events delivered, and contacts made eligible by pushed scores each pushed to the dialer once), the tenant answering 503 then refusing connections (2.5 + 2.5 min), PostgreSQL stopped for 20 s (pg_ctlcluster: this breaks every other user of that server for 20 s), the abuse cases, schemathesis.\n\n\
Exits 1 when any figure of lost, wrong id, 5xx or order violations is not 0, or an abuse case or schemathesis fails. Sends traffic only to 127.0.0.1.";

#[derive(Debug, clap::Args)]
pub struct FaultsArgs {
    /// Run the long faults too (tenant outage, PostgreSQL stop, two instances) and kill 20 times.
    #[arg(long)]
    pub long: bool,
    /// Only these faults (comma-separated): kill9, cluster, tenant, postgres, abuse, schemathesis.
    #[arg(long, value_delimiter = ',', value_parser = ["kill9", "cluster", "tenant", "postgres", "abuse", "schemathesis"])]
    pub only: Vec<String>,
    /// kill -9 count (default 3, 20 with --long).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=200))]
    pub kills: Option<u16>,
    /// Length of each tenant-outage phase (503, then refused connections), in seconds.
    #[arg(long, default_value_t = 150, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub outage_secs: u64,
    /// How long PostgreSQL stays stopped, in seconds.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub postgres_down_secs: u64,
    /// Time budget of the schemathesis run (0 skips it).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub schemathesis_secs: u64,
    /// The schemathesis command (`pip install schemathesis`).
    #[arg(long, env = "PESYNC_SCHEMATHESIS", default_value = "schemathesis")]
    pub schemathesis: String,
    /// The service's rate ceiling towards the simulator (requests/s).
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
}

/// Time limits shared by the faults.
pub struct Timing {
    /// The most the load of one fault may take to be posted.
    pub load_limit: Duration,
}

/// One fault's figures.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: String,
    pub tally: Tally,
    /// 5xx answers to the load other than 503 (the sender cannot act on them).
    pub server_errors: u64,
    /// 503 answers (the sender retries): expected while PostgreSQL is down.
    pub unavailable: u64,
    /// Events the simulator got again under their own request id (absorbed by its idempotency).
    pub resent_same_id: u64,
    pub recover: Option<Duration>,
    pub busiest_second: usize,
    pub ceiling: f64,
    pub note: String,
    /// What the dialer got, for a fault that hands contacts over.
    pub dialer: Option<dialer::DialerTally>,
}

impl Row {
    pub fn failed(&self) -> bool {
        self.tally.lost > 0
            || self.tally.wrong_id > 0
            || self.server_errors > 0
            || self.tally.order_violations > 0
            || self
                .dialer
                .as_ref()
                .is_some_and(dialer::DialerTally::failed)
    }
}

pub async fn run(args: FaultsArgs, settings: Settings) -> anyhow::Result<()> {
    let log_dir = crate::tools::bench::child::log_dir("faults")?;
    println!(
        "pesync bench faults: logs of every service in {}",
        log_dir.display()
    );
    let mut failures = Vec::new();
    let mut scratch = Vec::new();
    let rows = run_faults(&args, &settings, &log_dir, &mut scratch, &mut failures).await?;
    print_faults(&rows);
    let mut abuse_rows = Vec::new();
    if wanted(&args, "abuse") {
        abuse_rows = run_abuse(&settings, &log_dir, &mut scratch).await?;
        print_abuse(&abuse_rows);
    }
    if wanted(&args, "schemathesis") && args.schemathesis_secs > 0 {
        let bed = Bed::new(&settings, args.rate, &log_dir).await?;
        let outcome =
            schemathesis::run(&bed, &args.schemathesis, args.schemathesis_secs, &log_dir).await;
        scratch.push(bed.finish().await);
        match outcome {
            Ok(s) if s.ok => println!("schemathesis: {}", s.summary),
            Ok(s) => failures.push(format!("schemathesis: {}", s.summary)),
            Err(e) => failures.push(format!("schemathesis: {e:#}")),
        }
    }
    failures.extend(rows.iter().filter(|r| r.failed()).map(|r| r.fault.clone()));
    failures.extend(
        abuse_rows
            .iter()
            .filter(|r| !r.ok || r.server_errors() > 0)
            .map(|r| r.case.to_owned()),
    );
    for db in scratch {
        if let Err(e) = db.drop_db().await {
            tracing::warn!(error = %e, "dropping a scratch database");
        }
    }
    if failures.is_empty() {
        println!("every figure: lost 0, wrong id 0, 5xx 0, order violations 0");
        Ok(())
    } else {
        bail!("failed:\n  {}", failures.join("\n  "))
    }
}

/// Whether a fault runs: the ones `--only` names, else all but the long ones unless `--long`.
fn wanted(args: &FaultsArgs, name: &str) -> bool {
    if args.only.is_empty() {
        args.long || !matches!(name, "cluster" | "tenant" | "postgres")
    } else {
        args.only.iter().any(|o| o == name)
    }
}

/// The faults under load, each on its own bed: a row for each that ran to the end, a failure for
/// each that could not. The beds' scratch databases are left for the caller to drop.
async fn run_faults(
    args: &FaultsArgs,
    settings: &Settings,
    log_dir: &Path,
    scratch: &mut Vec<ScratchDb>,
    failures: &mut Vec<String>,
) -> anyhow::Result<Vec<Row>> {
    let timing = Timing {
        load_limit: Duration::from_secs(600),
    };
    let kills = args
        .kills
        .map_or(if args.long { 20 } else { 3 }, usize::from);
    let mut rows = Vec::new();
    for name in ["kill9", "cluster", "tenant", "postgres"] {
        if !wanted(args, name) {
            continue;
        }
        let started = Instant::now();
        let bed = Bed::new(settings, args.rate, log_dir).await?;
        let outcome = match name {
            "kill9" => scenarios::kill9(&bed, kills, &timing).await,
            "cluster" => scenarios::two_instances(&bed, &timing).await,
            "tenant" => {
                let phase = Duration::from_secs(args.outage_secs);
                scenarios::tenant_outage(&bed, phase, &timing).await
            }
            _ => {
                let down = Duration::from_secs(args.postgres_down_secs);
                postgres::postgres_stop(&bed, down, &timing).await
            }
        };
        scratch.push(bed.finish().await);
        match outcome {
            Ok(r) => {
                println!("{name}: done in {:.0} s", started.elapsed().as_secs_f64());
                rows.push(r);
            }
            Err(e) => failures.push(format!("{name}: {e:#}")),
        }
    }
    Ok(rows)
}

/// The abuse cases against one service; the slow body runs alongside the others.
async fn run_abuse(
    settings: &Settings,
    log_dir: &Path,
    scratch: &mut Vec<ScratchDb>,
) -> anyhow::Result<Vec<AbuseRow>> {
    let bed = Bed::new(settings, 50.0, log_dir).await?;
    let service = Service::start(&bed.cfg, "abuse", free_port()?).await?;
    let base = service.base_url();
    bed.create_source(&base).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let target = abuse::Target {
        base: &base,
        secret: &bed.secret,
        http: &http,
    };
    let others = async {
        let forged = abuse::forged_signature(&target).await;
        let bomb = abuse::gzip_bomb(&target).await;
        let (scrapes, _) = abuse::concurrent_scrapes(&target).await;
        vec![forged, bomb, scrapes]
    };
    let (mut rows, slow) = tokio::join!(others, abuse::slow_body(&base, Duration::from_secs(45)));
    rows.push(slow);
    drop(service);
    scratch.push(bed.finish().await);
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lost: usize, wrong: usize, order: usize, errors: u64) -> Row {
        Row {
            fault: "f".into(),
            tally: Tally {
                lost,
                wrong_id: wrong,
                order_violations: order,
                ..Tally::default()
            },
            server_errors: errors,
            unavailable: 7,
            resent_same_id: 3,
            recover: None,
            busiest_second: 0,
            ceiling: 5.0,
            note: String::new(),
            dialer: None,
        }
    }

    #[test]
    fn a_fault_fails_on_any_loss_wrong_id_order_violation_or_server_error_only() {
        assert!(
            !row(0, 0, 0, 0).failed(),
            "503s and same-id resends are allowed"
        );
        assert!(row(1, 0, 0, 0).failed());
        assert!(row(0, 1, 0, 0).failed());
        assert!(row(0, 0, 1, 0).failed());
        assert!(row(0, 0, 0, 1).failed());
        let mut r = row(0, 0, 0, 0);
        r.dialer = Some(dialer::DialerTally {
            eligible: 2,
            once: 1,
            twice: 1,
            ..Default::default()
        });
        assert!(r.failed(), "a contact the dialer has twice");
    }
}
