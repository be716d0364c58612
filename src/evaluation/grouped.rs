//! A batch's observations grouped by contact as they are read (in the database's contact order),
//! then handed to the batch's candidates (in the same order).

use std::collections::HashMap;

use crate::eligibility::Observation;

/// Room for a contact's observations when its first is read: a scored contact has a few, and a
/// list grown from one (`vec![first]`) is reallocated at its second.
const OBSERVATIONS_PER_CONTACT: usize = 4;

/// Observations grouped by contact, from rows in contact order: a contact's rows are contiguous,
/// so each contact costs one key, not one per observation.
pub(super) struct Grouped(Vec<(String, Vec<Observation>)>);

impl Grouped {
    /// For about `contacts` contacts.
    pub(super) fn with_capacity(contacts: usize) -> Self {
        Self(Vec::with_capacity(contacts))
    }

    pub(super) fn push(&mut self, contact: &str, observation: Observation) {
        match self.0.last_mut() {
            Some((id, list)) if id == contact => list.push(observation),
            _ => {
                let mut list = Vec::with_capacity(OBSERVATIONS_PER_CONTACT);
                list.push(observation);
                self.0.push((contact.to_owned(), list));
            }
        }
    }

    /// By contact id.
    pub(super) fn into_map(self) -> HashMap<String, Vec<Observation>> {
        let contacts = self.0.len();
        let map: HashMap<_, _> = self.0.into_iter().collect();
        debug_assert_eq!(map.len(), contacts, "rows not in contact order");
        map
    }

    /// Handed to the batch's contacts in the order read ([`ByContact`]).
    pub(super) fn in_order(self) -> ByContact {
        ByContact::InOrder {
            groups: self.0,
            next: 0,
        }
    }
}

/// A batch's observations, taken contact by contact ([`ByContact::take`]).
///
/// The candidates come in the database's contact order, and so do the observations read by
/// range: nearly always the next group is the next candidate's, and is taken without a lookup. (A
/// map keyed by contact, filled and emptied once per contact, cost 1.8 % of pesync's instructions
/// in a run and a full pass.) At the first candidate whose group is not next — a contact with no
/// observation, or a group of a contact in the range but not in the batch — the groups left are
/// put in a map and the rest of the batch looks its contacts up there, so nothing depends on how
/// the database orders the ids.
pub(super) enum ByContact {
    InOrder {
        groups: Vec<(String, Vec<Observation>)>,
        next: usize,
    },
    ById(HashMap<String, Vec<Observation>>),
}

impl ByContact {
    /// The observations of `contact`, once (none when it has none).
    pub(super) fn take(&mut self, contact: &str) -> Vec<Observation> {
        match self {
            Self::ById(map) => map.remove(contact).unwrap_or_default(),
            Self::InOrder { groups, next } => match groups.get_mut(*next) {
                Some((id, list)) if id == contact => {
                    *next += 1;
                    std::mem::take(list)
                }
                // Every group was taken by an earlier candidate.
                None => Vec::new(),
                Some(_) => {
                    *self = Self::ById(groups.drain(*next..).collect());
                    self.take(contact)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-12-08T{hour:02}:00:00Z").parse().unwrap()
    }

    /// Groups read from these (contact, hour) rows, in the order given.
    fn grouped(rows: &[(&str, u32)]) -> Grouped {
        let mut g = Grouped::with_capacity(2);
        for (contact, hour) in rows {
            g.push(contact, Observation::new(at(*hour), 0.5));
        }
        g
    }

    fn hours(list: Vec<Observation>) -> Vec<DateTime<Utc>> {
        list.iter().map(|o| o.timestamp).collect()
    }

    const ROWS: &[(&str, u32)] = &[("a", 1), ("a", 2), ("b", 3), ("d", 4), ("d", 5), ("e", 6)];

    #[test]
    fn each_candidate_takes_its_own_whatever_the_groups_around_it() {
        // In order; with a candidate that has none ("c"); with groups of contacts not in the batch
        // ("b", "d"); in an order the database would not give ("e" first).
        let batches: [&[&str]; 4] = [
            &["a", "b", "d", "e"],
            &["a", "b", "c", "d", "e"],
            &["a", "e"],
            &["e", "a", "zz", "d"],
        ];
        for batch in batches {
            let mut by_contact = grouped(ROWS).in_order();
            for contact in batch {
                let expected: Vec<DateTime<Utc>> = ROWS
                    .iter()
                    .filter(|(c, _)| c == contact)
                    .map(|(_, h)| at(*h))
                    .collect();
                assert_eq!(
                    hours(by_contact.take(contact)),
                    expected,
                    "{contact} of {batch:?}"
                );
            }
        }
    }

    #[test]
    fn a_group_is_taken_once() {
        let mut by_contact = grouped(ROWS).in_order();
        assert_eq!(by_contact.take("a").len(), 2);
        assert_eq!(by_contact.take("a"), []);
        let mut by_contact = grouped(ROWS).in_order();
        assert_eq!(by_contact.take("b").len(), 1);
        assert_eq!(by_contact.take("b"), []);
        assert_eq!(by_contact.take("a").len(), 2);
    }

    #[test]
    fn the_map_holds_every_contacts_rows() {
        let map = grouped(ROWS).into_map();
        assert_eq!(map.len(), 4);
        assert_eq!(hours(map["d"].clone()), [at(4), at(5)]);
    }
}
