//! Progress on stderr: an indicatif bar on a terminal, a plain line every few seconds otherwise (a
//! log file or CI output should not fill with redraws).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use super::summary::Summary;

/// How often the plain lines come.
const LINE_EVERY: Duration = Duration::from_secs(10);

pub struct Progress {
    kind: Kind,
    /// Bytes of the input read so far.
    bytes: Arc<AtomicU64>,
    total: Option<u64>,
    started: Instant,
}

enum Kind {
    Hidden,
    Bar(ProgressBar),
    Lines { next: Instant },
}

impl Progress {
    /// `total`: the input's size when known (a file, not a pipe).
    pub fn start(show: bool, total: Option<u64>, bytes: Arc<AtomicU64>) -> Self {
        let started = Instant::now();
        let kind = if !show {
            Kind::Hidden
        } else if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(len) => ProgressBar::new(len).with_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} ({eta}) {msg}",
                    )
                    .expect("valid template"),
                ),
                None => ProgressBar::new_spinner().with_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {binary_bytes} read {msg}")
                        .expect("valid template"),
                ),
            };
            bar.enable_steady_tick(Duration::from_millis(200));
            Kind::Bar(bar)
        } else {
            Kind::Lines {
                next: started + LINE_EVERY,
            }
        };
        Self {
            kind,
            bytes,
            total,
            started,
        }
    }

    pub fn update(&mut self, s: &Summary) {
        let read = self.bytes.load(Ordering::Relaxed);
        match &mut self.kind {
            Kind::Hidden => {}
            Kind::Bar(bar) => {
                bar.set_position(read);
                bar.set_message(counts(s));
            }
            Kind::Lines { next } => {
                let now = Instant::now();
                if now >= *next {
                    *next = now + LINE_EVERY;
                    eprintln!("{}", self.line(s, read));
                }
            }
        }
    }

    pub fn finish(&mut self, s: &Summary) {
        let read = self.bytes.load(Ordering::Relaxed);
        match &self.kind {
            Kind::Hidden => {}
            Kind::Bar(bar) => {
                bar.set_position(read);
                bar.finish_with_message(counts(s));
            }
            Kind::Lines { .. } => eprintln!("{}", self.line(s, read)),
        }
    }

    fn line(&self, s: &Summary, read: u64) -> String {
        let elapsed = self.started.elapsed();
        let rate = s.answered() as f64 / elapsed.as_secs_f64().max(1e-3);
        let of = match self.total {
            Some(t) => format!(" of {}", HumanBytes(t)),
            None => String::new(),
        };
        format!(
            "import: {}{of} read, {rate:.0} {}/s, {}",
            HumanBytes(read),
            s.kind.noun(),
            counts(s)
        )
    }
}

/// The first three statuses of the import's kind always, the others once they occur.
fn counts(s: &Summary) -> String {
    let mut parts = Vec::new();
    for (i, (name, n, _)) in s.statuses().into_iter().enumerate() {
        if i < 3 || n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    for (name, n) in [("malformed", s.malformed), ("failed", s.failed)] {
        if n > 0 {
            parts.push(format!("{n} {name}"));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::import::read::Kind;

    #[test]
    fn counts_name_the_statuses_of_the_kind() {
        let mut s = Summary::new(Kind::Events);
        s.accepted = 3;
        s.backfill = 1;
        assert_eq!(
            counts(&s),
            "3 accepted, 0 duplicate, 0 quarantined, 1 backfill"
        );
        let mut s = Summary::new(Kind::Scores);
        s.stored = 2;
        s.malformed = 1;
        assert_eq!(counts(&s), "2 stored, 0 duplicate, 0 rejected, 1 malformed");
    }
}
