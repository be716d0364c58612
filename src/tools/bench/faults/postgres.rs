//! The PostgreSQL fault: the machine's cluster stopped (as in a crash) and started again under
//! load, through `pg_ctlcluster`.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use super::bed::Bed;
use super::load::{Ledger, Plan};
use super::scenarios::{load_during, row};
use super::{Row, Timing};
use crate::tools::bench::child::{Service, free_port};

/// PostgreSQL stopped for `down` under load: ingestion answers 503 (never 500) while it is down,
/// and the same process recovers when it is back.
pub async fn postgres_stop(bed: &Bed, down: Duration, timing: &Timing) -> anyhow::Result<Row> {
    let version = postgres_version()?;
    let mut service = Service::start(&bed.cfg, "postgres", free_port()?).await?;
    let base = service.base_url();
    bed.create_source(&base).await?;
    let ledger = Ledger::default();
    let plan = Plan {
        batches: 160,
        batch_size: 10,
        contacts: 100,
        pace: Duration::from_millis(250),
    };
    let deadline = Instant::now() + timing.load_limit + down;
    let outage = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let stopped = pg_ctl(&version, "stop");
        if stopped.is_ok() {
            tokio::time::sleep(down).await;
        }
        // Started again whatever happened: the server is shared with everything on the machine.
        let started = pg_ctl(&version, "start");
        stopped?;
        started?;
        anyhow::Ok(Instant::now())
    };
    let (tally, back) = load_during(bed, &ledger, &base, plan, deadline, outage).await?;
    let mut r = row(
        bed,
        format!("PostgreSQL stopped for {} s under load", down.as_secs()),
        &ledger,
        tally,
    );
    r.recover = Some(back.elapsed());
    let same = if service.is_running() {
        "the same process recovered (no restart)"
    } else {
        "THE SERVICE EXITED"
    };
    r.note = format!("{same}; recovery = PostgreSQL back to backlog drained");
    if !service.is_running() {
        r.server_errors += 1;
    }
    Ok(r)
}

/// The newest cluster version under /etc/postgresql (where `pg_ctlcluster` finds it).
fn postgres_version() -> anyhow::Result<String> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .context("/etc/postgresql: the PostgreSQL fault needs a local Debian-style cluster")?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort_by_key(|v| v.parse::<u32>().unwrap_or(0));
    versions.pop().context("no cluster under /etc/postgresql")
}

fn pg_ctl(version: &str, action: &str) -> anyhow::Result<()> {
    let mut cmd = std::process::Command::new("pg_ctlcluster");
    cmd.args(["--skip-systemctl-redirect", version, "main", action]);
    if action == "stop" {
        // Immediate: no shutdown checkpoint (which took 98 s on a busy machine), as in a crash;
        // PostgreSQL recovers from its WAL at start.
        cmd.args(["-m", "immediate"]);
    } else {
        // Recovery from the WAL can outlast pg_ctl's default 60 s wait on a busy machine (seen
        // here: the start "failed" while the server was still replaying): wait up to 10 min.
        cmd.args(["--", "-t", "600"]);
    }
    let status = cmd.status().context("running pg_ctlcluster")?;
    ensure!(status.success(), "pg_ctlcluster {action}: {status}");
    Ok(())
}
