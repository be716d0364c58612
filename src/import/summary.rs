//! What an import did: per-status counts from the server's answers, what was never sent locally,
//! and the first lines worth an operator's look.

use std::fmt;

use super::read::Skipped;
use super::send::EventResult;

/// At most this many lines are named in the report; the counts cover the rest.
pub const MAX_NOTES: usize = 20;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub accepted: u64,
    pub duplicate: u64,
    pub quarantined: u64,
    pub backfill: u64,
    pub reconciliation: u64,
    /// A status this importer does not know (a newer server).
    pub other: u64,
    /// Input records that could not become an event, never sent (see `read::Skipped`).
    pub malformed: u64,
    /// Events of batches the server did not take (refused, or still failing after every retry).
    pub failed: u64,
    pub notes: Vec<Note>,
    /// Lines worth a note beyond the first `MAX_NOTES`.
    pub more_notes: u64,
    /// Why the import stopped before the end of the input, if it did.
    pub stopped: Option<String>,
}

/// A line of the input and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: u64,
    pub what: String,
}

impl Summary {
    /// Events the server answered for (whatever the status).
    pub fn answered(&self) -> u64 {
        self.accepted
            + self.duplicate
            + self.quarantined
            + self.backfill
            + self.reconciliation
            + self.other
    }

    /// True when every record of the input was read and is stored by the server (in a lane, the
    /// reconciliation queue, the quarantine, or as a duplicate of a stored event).
    pub fn complete(&self) -> bool {
        self.stopped.is_none() && self.malformed == 0 && self.failed == 0
    }

    /// Adds the server's results for a batch whose events came from `lines`.
    pub fn add_results(&mut self, lines: &[u64], results: &[EventResult]) {
        for r in results {
            let counter = match r.status.as_str() {
                "accepted" => &mut self.accepted,
                "duplicate" => &mut self.duplicate,
                "quarantined" => &mut self.quarantined,
                "backfill" => &mut self.backfill,
                "reconciliation" => &mut self.reconciliation,
                _ => &mut self.other,
            };
            *counter += 1;
            if r.status == "quarantined" {
                let reason = r.reason.as_deref().unwrap_or("unknown reason");
                let what = match &r.detail {
                    Some(d) => format!("quarantined ({reason}): {d}"),
                    None => format!("quarantined ({reason})"),
                };
                self.note(lines.get(r.index).copied().unwrap_or(0), what);
            }
        }
    }

    pub fn add_skipped(&mut self, s: &Skipped) {
        self.malformed += 1;
        self.note(s.line, format!("malformed, not sent: {}", s.reason));
    }

    /// A batch the server did not take; the first failure stops the import.
    pub fn add_failed(&mut self, events: usize, why: String) {
        self.failed += events as u64;
        self.stop(why);
    }

    pub fn stop(&mut self, why: String) {
        self.stopped.get_or_insert(why);
    }

    fn note(&mut self, line: u64, what: String) {
        if self.notes.len() < MAX_NOTES {
            self.notes.push(Note { line, what });
        } else {
            self.more_notes += 1;
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("accepted", self.accepted, ""),
            ("duplicate", self.duplicate, ""),
            (
                "quarantined",
                self.quarantined,
                "  (stored; see /v1/admin/quarantine)",
            ),
            ("backfill", self.backfill, ""),
            ("reconciliation", self.reconciliation, ""),
            (
                "other",
                self.other,
                "  (a status this client does not know)",
            ),
            ("malformed", self.malformed, "  (not sent)"),
            ("failed", self.failed, "  (not stored)"),
        ];
        for (name, n, note) in rows {
            if name == "other" && n == 0 {
                continue;
            }
            let note = if n > 0 { note } else { "" };
            writeln!(f, "  {name:<15}{n:>10}{note}")?;
        }
        // Lines in input order, whatever order the concurrent batches were answered in.
        let mut notes = self.notes.clone();
        notes.sort_by_key(|n| n.line);
        for n in &notes {
            writeln!(f, "line {}: {}", n.line, n.what)?;
        }
        if self.more_notes > 0 {
            writeln!(f, "… and {} more lines like these", self.more_notes)?;
        }
        if let Some(why) = &self.stopped {
            writeln!(f, "stopped early: {why}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(index: usize, status: &str) -> EventResult {
        EventResult {
            index,
            status: status.into(),
            reason: (status == "quarantined").then(|| "type_mismatch".into()),
            detail: (status == "quarantined").then(|| "attributes.x is not a number".into()),
        }
    }

    #[test]
    fn counts_statuses_and_notes_quarantined_lines() {
        let mut s = Summary::default();
        let statuses = [
            "accepted",
            "duplicate",
            "quarantined",
            "backfill",
            "reconciliation",
            "accepted",
            "brand_new",
        ];
        let results: Vec<_> = statuses
            .iter()
            .enumerate()
            .map(|(i, st)| result(i, st))
            .collect();
        s.add_results(&[10, 11, 12, 13, 14, 15, 16], &results);
        assert_eq!(
            (
                s.accepted,
                s.duplicate,
                s.quarantined,
                s.backfill,
                s.reconciliation,
                s.other
            ),
            (2, 1, 1, 1, 1, 1)
        );
        assert_eq!(s.answered(), 7);
        assert_eq!(
            s.notes,
            [Note {
                line: 12,
                what: "quarantined (type_mismatch): attributes.x is not a number".into()
            }]
        );
        assert!(s.complete());
    }

    #[test]
    fn malformed_and_failed_make_it_incomplete_and_notes_are_capped() {
        let mut s = Summary::default();
        for line in 0..(MAX_NOTES as u64 + 5) {
            s.add_skipped(&Skipped {
                line,
                reason: "bad".into(),
            });
        }
        assert_eq!(s.malformed, MAX_NOTES as u64 + 5);
        assert_eq!(s.notes.len(), MAX_NOTES);
        assert_eq!(s.more_notes, 5);
        assert!(!s.complete());

        let mut s = Summary::default();
        s.add_failed(500, "first".into());
        s.add_failed(500, "second".into());
        assert_eq!(s.failed, 1000);
        assert_eq!(s.stopped.as_deref(), Some("first"));
        let text = s.to_string();
        assert!(text.contains("failed"), "{text}");
        assert!(text.contains("stopped early: first"), "{text}");
    }
}
