//! The faults: each runs the load of [`super::load`] against `pesync serve` children on its own
//! [`Bed`], injects its fault, waits for the backlog to drain and reports one [`Row`]. The
//! PostgreSQL stop, which drives the machine's cluster, is in `postgres.rs`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;

use super::bed::Bed;
use super::dialer;
use super::load::{Ledger, Plan, Tally, produce};
use super::{Row, Timing};
use crate::simulator::{FailScope, FailSpec};
use crate::tools::bench::child::{Service, ServiceConfig, free_port};

/// How long a backlog may take to drain after a fault before what is missing counts as lost.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

/// Posts `plan` to `base` until `deadline` while `fault` runs, then waits for the backlog to drain:
/// the tally, and when the fault ended (what `fault` answers).
pub(super) async fn load_during(
    bed: &Bed,
    ledger: &Ledger,
    base: &str,
    plan: Plan,
    deadline: Instant,
    fault: impl Future<Output = anyhow::Result<Instant>>,
) -> anyhow::Result<(Tally, Instant)> {
    let targets = [base.to_owned()];
    let (produced, back) = tokio::join!(
        produce(ledger, &targets, &bed.secret, plan, deadline),
        fault
    );
    // The fault's own error (say, PostgreSQL would not start) says more than the load's.
    let back = back?;
    produced?;
    let (tally, _) = bed.drain(ledger, DRAIN_LIMIT).await;
    Ok((tally, back))
}

pub(super) fn row(bed: &Bed, fault: String, ledger: &Ledger, tally: Tally) -> Row {
    let a = &ledger.answers;
    Row {
        fault,
        tally,
        server_errors: a.server_errors.load(Ordering::Relaxed),
        unavailable: a.unavailable_503.load(Ordering::Relaxed),
        resent_same_id: bed.sim.state.stats().duplicates,
        recover: None,
        busiest_second: bed.busiest_second(),
        ceiling: bed.cfg.rate_limit,
        note: String::new(),
        dialer: None,
    }
}

/// kill -9 of the service `kills` times, 1.5–3.5 s apart, while events are posted and delivered;
/// each time it is started again at once (as a supervisor would).
pub async fn kill9(bed: &Bed, kills: usize, timing: &Timing) -> anyhow::Result<Row> {
    let port = free_port()?;
    let first = Service::start(&bed.cfg, "kill9", port).await?;
    let base = first.base_url();
    bed.create_source(&base).await?;
    let ledger = Ledger::default();
    // Posting lasts about as long as the kills; delivery (at the ceiling) lasts longer, so the
    // later kills land in delivery alone.
    let plan = Plan {
        batches: kills * 6,
        batch_size: 20,
        contacts: 100,
        pace: Duration::from_millis(400),
    };
    let deadline = Instant::now() + timing.load_limit;
    let mut service = Some(first);
    let mut restarts = Vec::new();
    let killer = async {
        for _ in 0..kills {
            let wait = rand::rng().random_range(1500..3500);
            tokio::time::sleep(Duration::from_millis(wait)).await;
            service.take().context("a running service")?.kill9()?;
            let t = Instant::now();
            service = Some(Service::start(&bed.cfg, "kill9", port).await?);
            restarts.push(t.elapsed());
        }
        anyhow::Ok(())
    };
    let (produced, killed) = tokio::join!(
        produce(
            &ledger,
            std::slice::from_ref(&base),
            &bed.secret,
            plan,
            deadline
        ),
        killer
    );
    produced?;
    killed?;
    let after_last = Instant::now();
    let (tally, _) = bed.drain(&ledger, DRAIN_LIMIT).await;
    let mut r = row(
        bed,
        format!("kill -9 ×{kills} during ingestion and delivery"),
        &ledger,
        tally,
    );
    r.recover = Some(after_last.elapsed());
    let slowest = restarts.iter().max().copied().unwrap_or_default();
    r.note = format!(
        "restart to ready ≤ {:.1} s; recovery = last restart to drained (includes the {} s delivery lease)",
        slowest.as_secs_f64(),
        30
    );
    drop(service);
    Ok(r)
}

/// The tenant answers 503 for `phase`, then refuses connections for `phase`, while events keep
/// coming (~2 a second); recovery is from the tenant's return to the backlog drained.
pub async fn tenant_outage(bed: &Bed, phase: Duration, timing: &Timing) -> anyhow::Result<Row> {
    let service = Service::start(&bed.cfg, "outage", free_port()?).await?;
    let base = service.base_url();
    bed.create_source(&base).await?;
    let ledger = Ledger::default();
    let pace = Duration::from_millis(500);
    let plan = Plan {
        batches: ((phase * 2).as_millis() / pace.as_millis()) as usize + 10,
        batch_size: 1,
        contacts: 200,
        pace,
    };
    let deadline = Instant::now() + timing.load_limit + phase * 2;
    let outage = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let fail = |count| FailSpec {
            count,
            status: 503,
            retry_after_secs: None,
            scope: FailScope::Api,
        };
        bed.sim.state.fail_next(fail(u32::MAX))?;
        tokio::time::sleep(phase).await;
        bed.sim.state.fail_next(fail(0))?;
        bed.proxy.down();
        tokio::time::sleep(phase).await;
        bed.proxy.up();
        anyhow::Ok(Instant::now())
    };
    let (tally, back) = load_during(bed, &ledger, &base, plan, deadline, outage).await?;
    let mut r = row(
        bed,
        format!(
            "tenant 503 for {} s, then refusing connections for {} s",
            phase.as_secs(),
            phase.as_secs()
        ),
        &ledger,
        tally,
    );
    r.recover = Some(back.elapsed());
    r.note = "recovery = tenant back to backlog drained (goal ≤ 60 s)".into();
    drop(service);
    Ok(r)
}

/// Contacts the two-instance fault makes eligible (by pushed scores), and in how many waves.
const ELIGIBLE: usize = 300;
const WAVES: usize = 10;

/// Two instances on one database, both delivering and both running the evaluation (every 2 s);
/// one is killed (kill -9, not restarted) while a backlog is being delivered and contacts are
/// being handed over. One ceiling for both, order held, nothing lost, and each contact made
/// eligible by its pushed scores pushed to the dialer once.
pub async fn two_instances(bed: &Bed, timing: &Timing) -> anyhow::Result<Row> {
    // Polling is off: eligibility comes from the pushed scores alone, whatever the simulator's
    // model would make of the load's contacts.
    let cfg = ServiceConfig {
        settings: vec![
            ("PESYNC_EVALUATE_CRON", "*/2 * * * * *".into()),
            ("PESYNC_POLL_CRON", "off".into()),
        ],
        ..bed.cfg.clone()
    };
    let a = Service::start(&cfg, "cluster-a", free_port()?).await?;
    let b = Service::start(&cfg, "cluster-b", free_port()?).await?;
    let targets = [a.base_url(), b.base_url()];
    bed.create_source(&targets[0]).await?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    dialer::create_campaign(&http, &targets[0], &cfg.admin_token).await?;
    let eligible: Vec<String> = (0..ELIGIBLE).map(|i| format!("fd-{i}")).collect();
    let ledger = Ledger::default();
    let plan = Plan {
        batches: 40,
        batch_size: 25,
        contacts: 100,
        pace: Duration::from_millis(200),
    };
    let deadline = Instant::now() + timing.load_limit;
    let killer = async {
        // Mid-delivery: the backlog is well under way by then.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let delivered_before = bed.sim.state.stats().events_accepted;
        let pushed_before = bed.sim.state.stats().dialer_upserts;
        a.kill9()?;
        if delivered_before == 0 {
            bail!("nothing was being delivered when the instance was killed");
        }
        anyhow::Ok((delivered_before, pushed_before))
    };
    // A wave a second, to the survivor, from before the kill to after it: runs on both instances
    // hand contacts over, and the killed one may be cut off in the middle of a push.
    let scores = async {
        for wave in eligible.chunks(ELIGIBLE.div_ceil(WAVES)) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            dialer::push_scores(&http, &targets[1], &cfg.admin_token, wave).await?;
        }
        anyhow::Ok(())
    };
    let (produced, killed, pushed) = tokio::join!(
        produce(&ledger, &targets, &bed.secret, plan, deadline),
        killer,
        scores
    );
    produced?;
    let (delivered_before, pushed_before) = killed?;
    pushed?;
    let after = Instant::now();
    let (tally, _) = bed.drain(&ledger, DRAIN_LIMIT).await;
    let handed_over = dialer::wait_for_dialer(&bed.sim, &eligible, DRAIN_LIMIT).await;
    let mut r = row(
        bed,
        "two instances on one database, one killed mid-delivery".into(),
        &ledger,
        tally,
    );
    r.recover = Some(after.elapsed());
    r.note = format!(
        "killed after {delivered_before} events were delivered and {pushed_before} contacts pushed to the dialer; recovery = kill to drained and handed over (includes the 30 s delivery lease)"
    );
    r.dialer = Some(handed_over);
    drop(b);
    Ok(r)
}
