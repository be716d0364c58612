//! What a measured stretch of a benchmark cost: wall time, CPU seconds of this process and of the
//! PostgreSQL backends serving it, and the peak memory of this process or of a child (the service
//! a benchmark runs as `pesync serve`). Linux only (`/proc`); elsewhere, and for a PostgreSQL on
//! another machine, the figures that cannot be read are null.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use sqlx::PgPool;

/// Clock ticks per second in `/proc/*/stat` (USER_HZ: 100 on every Linux architecture).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Cost {
    pub seconds: f64,
    /// CPU seconds (user + system) of this process.
    pub pesync_cpu_seconds: Option<f64>,
    /// CPU seconds of the PostgreSQL client backends connected to the benchmark's database (not
    /// autovacuum), when the server runs on this machine and its processes are readable.
    pub postgres_cpu_seconds: Option<f64>,
    /// Peak resident set size of this process during the stretch (VmHWM, reset at its start).
    pub peak_rss_mib: Option<f64>,
}

/// A process whose figures are read from `/proc`.
#[derive(Debug, Clone, Copy)]
pub enum Process {
    /// This one.
    Current,
    /// Another one of this user's, by its id (a child).
    Id(u32),
}

impl Process {
    /// Its file `name` under `/proc`.
    fn file(self, name: &str) -> String {
        match self {
            Self::Current => format!("/proc/self/{name}"),
            Self::Id(pid) => format!("/proc/{pid}/{name}"),
        }
    }
}

/// A stretch being measured.
pub struct Meter {
    started: Instant,
    own: Option<f64>,
    backends: HashMap<i32, f64>,
}

impl Meter {
    pub async fn start(pool: &PgPool) -> Self {
        reset_peak_rss(Process::Current);
        Self {
            backends: backend_cpu(pool).await,
            own: cpu_seconds(Process::Current),
            started: Instant::now(),
        }
    }

    /// Backends opened during the stretch count from zero; one closed during it is not counted
    /// (the pool keeps its connections for minutes, far longer than a run).
    pub async fn stop(self, pool: &PgPool) -> Cost {
        let seconds = self.started.elapsed().as_secs_f64();
        let own = cpu_seconds(Process::Current);
        let after = backend_cpu(pool).await;
        let postgres = (!after.is_empty()).then(|| {
            after
                .iter()
                .map(|(pid, cpu)| cpu - self.backends.get(pid).copied().unwrap_or(0.0))
                .sum()
        });
        Cost {
            seconds,
            pesync_cpu_seconds: own.zip(self.own).map(|(b, a)| b - a),
            postgres_cpu_seconds: postgres,
            peak_rss_mib: peak_rss_mib(Process::Current),
        }
    }
}

/// CPU seconds so far of a process.
pub fn cpu_seconds(process: Process) -> Option<f64> {
    let stat = std::fs::read_to_string(process.file("stat")).ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds so far of each client backend connected to the pool's database, the one asking
/// included (leaving it out would count its whole past when another connection asks next time).
/// Autovacuum workers are left out for the same reason: one that started before the stretch and is
/// first seen after it would count its whole life.
async fn backend_cpu(pool: &PgPool) -> HashMap<i32, f64> {
    let pids: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND backend_type = 'client backend'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    pids.into_iter()
        .filter_map(|pid| {
            let process = Process::Id(u32::try_from(pid).ok()?);
            cpu_seconds(process).map(|cpu| (pid, cpu))
        })
        .collect()
}

/// Resets a process's peak RSS (Linux: `clear_refs` 5), so VmHWM measures what follows. Allowed
/// for this process and its children (same user); where not, the peak covers its whole life.
pub fn reset_peak_rss(process: Process) {
    let _ = std::fs::write(process.file("clear_refs"), "5");
}

/// A peak RSS as benchmarks print it.
pub fn mib_text(mib: Option<f64>) -> String {
    mib.map_or_else(|| "unknown".to_owned(), |m| format!("{m:.1} MiB"))
}

/// A process's peak RSS in MiB (Linux `VmHWM`); unknown once it has exited.
pub fn peak_rss_mib(process: Process) -> Option<f64> {
    let status = std::fs::read_to_string(process.file("status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_cpu_and_memory() {
        let before = cpu_seconds(Process::Current).unwrap();
        // Burn CPU until the counter moves by at least some clock ticks: on a loaded machine
        // wall time says little about the CPU this thread got, so spin on the counter itself
        // (bounded, so a counter that never moves fails instead of hanging).
        let mut x = 0u64;
        let t = Instant::now();
        let mut after = before;
        while after - before < 0.05 && t.elapsed().as_secs() < 30 {
            for _ in 0..1_000_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            after = cpu_seconds(Process::Current).unwrap();
        }
        std::hint::black_box(x);
        assert!(after - before >= 0.05, "{before} → {after}");
        assert!(peak_rss_mib(Process::Current).unwrap() > 0.0);
    }

    #[test]
    fn reads_another_process_by_its_id() {
        let own = Process::Id(std::process::id());
        assert!(cpu_seconds(own).is_some());
        reset_peak_rss(own);
        assert!(peak_rss_mib(own).unwrap() > 0.0);
        // A process that is gone has no figures rather than an error.
        assert_eq!(peak_rss_mib(Process::Id(u32::MAX)), None);
    }
}
