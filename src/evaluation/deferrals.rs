//! A batch's deferrals (migration `20261212000017`): one row per contact and opening, with the
//! campaigns that wait for it as words. A contact deferred to its own window's opening by every
//! campaign is one row, not one per campaign; the run only asks which contacts are due.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use sqlx::PgConnection;

use crate::platform::db::copy::copy_in;

const COPY_DEFERRALS: &str = "COPY deferrals (contact_id, next_opening, campaign_ids, \
     deferred_at) FROM STDIN (FORMAT binary)";

/// The (contact, campaign, opening) triples of a batch, in the order decided: a contact's are
/// next to each other.
#[derive(Debug, Default)]
pub struct Deferrals {
    contact: Vec<String>,
    campaign: Vec<String>,
    next: Vec<DateTime<Utc>>,
}

impl Deferrals {
    /// Defers `contact` for `campaign` until `next`. A contact's deferrals are pushed together
    /// (`BatchWrite::decided` pushes all of one contact's at once, and a batch decides a contact
    /// once): [`Self::rows`] groups each contact's next to each other.
    pub fn push(&mut self, contact: &str, campaign: &str, next: DateTime<Utc>) {
        self.contact.push(contact.to_owned());
        self.campaign.push(campaign.to_owned());
        self.next.push(next);
    }

    /// Deferred (contact, campaign) pairs.
    pub fn len(&self) -> usize {
        self.contact.len()
    }

    /// The campaigns deferred for, with repeats.
    pub fn campaign_ids(&self) -> impl Iterator<Item = &String> {
        self.campaign.iter()
    }

    /// The rows to write: per contact not in `skip`, one per opening with its campaigns in `live`
    /// in the order pushed, space-separated.
    pub fn rows(
        &self,
        live: &HashSet<String>,
        skip: &HashSet<&str>,
    ) -> Vec<(&str, DateTime<Utc>, String)> {
        let mut rows: Vec<(&str, DateTime<Utc>, String)> = Vec::new();
        let mut first_of_contact = 0;
        for i in 0..self.contact.len() {
            let (contact, campaign, next) = (&self.contact[i], &self.campaign[i], self.next[i]);
            if i == 0 || self.contact[i - 1] != *contact {
                first_of_contact = rows.len();
            }
            if skip.contains(contact.as_str()) || !live.contains(campaign) {
                continue;
            }
            // A contact has a handful of openings at most: a scan of its own rows. Compared to the
            // microsecond, as PostgreSQL keeps them: two instants apart by less are one key.
            let key = next.timestamp_micros();
            match rows[first_of_contact..]
                .iter_mut()
                .find(|r| r.1.timestamp_micros() == key)
            {
                Some(row) => {
                    row.2.push(' ');
                    row.2.push_str(campaign);
                }
                None => rows.push((contact, next, campaign.clone())),
            }
        }
        rows
    }

    /// Writes the rows of [`Self::rows`], deferred at `now`.
    pub async fn write(
        &self,
        tx: &mut PgConnection,
        now: DateTime<Utc>,
        live: &HashSet<String>,
        skip: &HashSet<&str>,
    ) -> sqlx::Result<u64> {
        copy_in(
            tx,
            COPY_DEFERRALS,
            self.rows(live, skip),
            |c, (contact, next, campaigns)| {
                c.row(4)
                    .text(contact)
                    .timestamptz(next)
                    .text(&campaigns)
                    .timestamptz(now);
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-12-08T{hour:02}:00:00Z").parse().unwrap()
    }

    #[test]
    fn a_contacts_campaigns_share_a_row_per_opening() {
        let mut d = Deferrals::default();
        d.push("c-1", "a", at(9));
        d.push("c-1", "b", at(10));
        d.push("c-1", "c", at(9));
        d.push("c-2", "a", at(9));
        d.push("c-3", "b", at(11));
        let live: HashSet<String> = ["a", "b", "c"].map(String::from).into();
        let rows = d.rows(&live, &HashSet::new());
        assert_eq!(
            rows,
            [
                ("c-1", at(9), "a c".to_owned()),
                ("c-1", at(10), "b".to_owned()),
                ("c-2", at(9), "a".to_owned()),
                ("c-3", at(11), "b".to_owned()),
            ]
        );
    }

    #[test]
    fn openings_apart_by_less_than_a_microsecond_are_one_row() {
        let mut d = Deferrals::default();
        d.push("c-1", "a", at(9));
        d.push("c-1", "b", at(9) + chrono::TimeDelta::nanoseconds(500));
        let live: HashSet<String> = ["a", "b"].map(String::from).into();
        let rows = d.rows(&live, &HashSet::new());
        assert_eq!(rows, [("c-1", at(9), "a b".to_owned())]);
    }

    #[test]
    fn skipped_contacts_and_deleted_campaigns_write_nothing() {
        let mut d = Deferrals::default();
        d.push("c-1", "gone", at(9));
        d.push("c-1", "a", at(9));
        d.push("c-2", "a", at(9));
        d.push("c-3", "gone", at(9));
        let live: HashSet<String> = ["a"].map(String::from).into();
        let rows = d.rows(&live, &["c-2"].into());
        assert_eq!(rows, [("c-1", at(9), "a".to_owned())]);
    }
}
