//! What an import did: per-status counts from the server's answers, what was never sent locally,
//! and the first lines worth an operator's look. Events are answered accepted / duplicate /
//! quarantined / backfill / reconciliation (SPEC §2), score observations stored / duplicate /
//! rejected (issue 10 §4); one summary counts both, and shows the statuses of its kind.

use std::fmt;

use super::read::{Kind, Skipped};
use super::send::EventResult;

/// At most this many lines are named in the report; the counts cover the rest.
pub const MAX_NOTES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// What was imported: which statuses the report shows, and what a record is called.
    pub kind: Kind,
    pub accepted: u64,
    pub duplicate: u64,
    pub quarantined: u64,
    pub backfill: u64,
    pub reconciliation: u64,
    /// A score observation stored (a snapshot and an observation).
    pub stored: u64,
    /// A score observation the server refused, with a reason: not stored anywhere.
    pub rejected: u64,
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

impl Default for Summary {
    fn default() -> Self {
        Self::new(Kind::Events)
    }
}

impl Summary {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            accepted: 0,
            duplicate: 0,
            quarantined: 0,
            backfill: 0,
            reconciliation: 0,
            stored: 0,
            rejected: 0,
            other: 0,
            malformed: 0,
            failed: 0,
            notes: Vec::new(),
            more_notes: 0,
            stopped: None,
        }
    }

    /// Records the server answered for (whatever the status).
    pub fn answered(&self) -> u64 {
        self.accepted
            + self.duplicate
            + self.quarantined
            + self.backfill
            + self.reconciliation
            + self.stored
            + self.rejected
            + self.other
    }

    /// True when every record of the input was read and is stored by the server (in a lane, the
    /// reconciliation queue, the quarantine, as an observation, or as a duplicate of a stored one).
    /// A rejected observation is stored nowhere, so it makes the import incomplete.
    pub fn complete(&self) -> bool {
        self.stopped.is_none() && self.malformed == 0 && self.failed == 0 && self.rejected == 0
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
                "stored" => &mut self.stored,
                "rejected" => &mut self.rejected,
                _ => &mut self.other,
            };
            *counter += 1;
            // What was not taken as sent is worth a look: the operator fixes the line.
            if r.status == "quarantined" || r.status == "rejected" {
                let reason = r.reason.as_deref().unwrap_or("unknown reason");
                let what = match &r.detail {
                    Some(d) => format!("{} ({reason}): {d}", r.status),
                    None => format!("{} ({reason})", r.status),
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

impl Summary {
    /// The server's statuses of this kind of import, with their counts and what they mean.
    pub fn statuses(&self) -> Vec<(&'static str, u64, &'static str)> {
        match self.kind {
            Kind::Events => vec![
                ("accepted", self.accepted, ""),
                ("duplicate", self.duplicate, ""),
                (
                    "quarantined",
                    self.quarantined,
                    "  (stored; see /v1/admin/quarantine)",
                ),
                ("backfill", self.backfill, ""),
                ("reconciliation", self.reconciliation, ""),
            ],
            Kind::Scores => vec![
                ("stored", self.stored, ""),
                ("duplicate", self.duplicate, ""),
                ("rejected", self.rejected, "  (not stored)"),
            ],
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows = self.statuses();
        rows.extend([
            (
                "other",
                self.other,
                "  (a status this client does not know)",
            ),
            ("malformed", self.malformed, "  (not sent)"),
            ("failed", self.failed, "  (not stored)"),
        ]);
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
    fn a_score_import_counts_stored_duplicate_rejected_and_notes_rejected_lines() {
        let mut s = Summary::new(Kind::Scores);
        let results = [
            ("stored", None),
            ("duplicate", None),
            ("rejected", Some("score_out_of_range")),
            ("stored", None),
        ]
        .iter()
        .enumerate()
        .map(|(index, (status, reason))| EventResult {
            index,
            status: (*status).into(),
            reason: reason.map(Into::into),
            detail: None,
        })
        .collect::<Vec<_>>();
        s.add_results(&[2, 3, 5, 6], &results);
        assert_eq!((s.stored, s.duplicate, s.rejected, s.other), (2, 1, 1, 0));
        assert_eq!(s.answered(), 4);
        assert_eq!(
            s.notes,
            [Note {
                line: 5,
                what: "rejected (score_out_of_range)".into()
            }]
        );
        assert!(!s.complete(), "a rejected observation is not stored");
        let text = s.to_string();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            names,
            [
                "stored",
                "duplicate",
                "rejected",
                "malformed",
                "failed",
                "line"
            ],
            "{text}"
        );
        assert!(
            text.contains("line 5: rejected (score_out_of_range)"),
            "{text}"
        );
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
