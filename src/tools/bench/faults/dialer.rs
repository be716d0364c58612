//! The hand-over half of the two-instance fault: contacts made eligible by pushed scores
//! (`POST /v1/scores`), a push campaign, and the books on what the simulator's dialer received.
//! Each eligible contact must be in the dialer once: never missing, never under two dialer ids
//! (which the dialer would call twice). A repeat under the same id (an upsert after a crash
//! between the dialer's answer and the commit) is counted, not failed, like an event resent
//! under its own request id.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::ensure;
use chrono::Utc;
use serde_json::{Value, json};

use crate::simulator::{DialerList, SimulatorHandle};

/// The campaign the eligible contacts are pushed to.
pub const CAMPAIGN: &str = "faults";

/// What the dialer got for the eligible contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialerTally {
    /// Contacts whose scores make them eligible.
    pub eligible: usize,
    /// Eligible contacts in the dialer under exactly one id.
    pub once: usize,
    /// Eligible contacts the dialer never received.
    pub missing: usize,
    /// Contacts in the dialer under more than one id: called twice.
    pub twice: usize,
    /// Contacts the dialer received that were not eligible.
    pub unexpected: usize,
    /// Pushes beyond the first of a contact under its one id (idempotent upserts).
    pub repushed_same_id: u64,
}

impl DialerTally {
    pub fn failed(&self) -> bool {
        self.missing > 0 || self.twice > 0 || self.unexpected > 0
    }
}

/// Compares the eligible contacts with every list of the dialer (a contact is known by the
/// `contact_id` pesync puts in its data).
pub fn tally(eligible: &[String], lists: &BTreeMap<String, DialerList>) -> DialerTally {
    let mut ids: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for list in lists.values() {
        for c in list.contacts.values() {
            let contact = c.data.get("contact_id").map_or("", String::as_str);
            let entry = ids.entry(contact).or_default();
            entry.0 += 1;
            entry.1 += u64::from(c.times_pushed.saturating_sub(1));
        }
    }
    let mut t = DialerTally {
        eligible: eligible.len(),
        ..DialerTally::default()
    };
    for contact in eligible {
        match ids.remove(contact.as_str()) {
            None => t.missing += 1,
            Some((1, repushed)) => {
                t.once += 1;
                t.repushed_same_id += repushed;
            }
            Some((_, repushed)) => {
                t.twice += 1;
                t.repushed_same_id += repushed;
            }
        }
    }
    t.unexpected = ids.len();
    t
}

/// A push campaign taking every tier, voice to one list, open all day.
pub fn campaign() -> Value {
    json!({"id": CAMPAIGN, "name": "Fault suite", "enabled": true, "mode": "push",
           "tiers": ["high", "moderate", "low"],
           "channels": {"voice": format!("{CAMPAIGN}-voice")},
           "default_window": {"start_time": "00:00:00", "end_time": "00:00:00", "timezone": "UTC"}})
}

/// Observations that make `contact` eligible now: 0.50 five hours ago, 0.85 an hour ago, voice.
pub fn rising(contact: &str) -> [Value; 2] {
    let now = Utc::now();
    [
        json!({"contact_id": contact, "score": 0.5,
               "observed_at": (now - chrono::Duration::hours(5)).to_rfc3339()}),
        json!({"contact_id": contact, "score": 0.85, "channel_preference": "voice",
               "observed_at": (now - chrono::Duration::hours(1)).to_rfc3339()}),
    ]
}

/// Creates the campaign through the admin API of the service at `base`.
pub async fn create_campaign(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<()> {
    let r = http
        .post(format!("{base}/v1/admin/campaigns"))
        .bearer_auth(token)
        .json(&campaign())
        .send()
        .await?;
    ensure!(
        r.status().is_success(),
        "creating the campaign: {}",
        r.status()
    );
    Ok(())
}

/// Pushes rising scores for `contacts` to the service at `base`; each must be stored.
pub async fn push_scores(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    contacts: &[String],
) -> anyhow::Result<()> {
    let body: Vec<Value> = contacts.iter().flat_map(|c| rising(c)).collect();
    let r = http
        .post(format!("{base}/v1/scores"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    ensure!(r.status().is_success(), "pushing scores: {}", r.status());
    let v: Value = r.json().await?;
    let stored = v["results"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|x| x["status"] == "stored").count());
    ensure!(
        stored == body.len(),
        "pushing scores: {stored} of {} stored",
        body.len()
    );
    Ok(())
}

/// Waits until the dialer has every eligible contact (or `limit` passed) and answers the tally.
pub async fn wait_for_dialer(
    sim: &SimulatorHandle,
    eligible: &[String],
    limit: Duration,
) -> DialerTally {
    let started = Instant::now();
    loop {
        let t = tally(eligible, &sim.state.dialer());
        if t.missing == 0 || started.elapsed() >= limit {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::StoredDialerContact;

    fn stored(id: &str, contact: &str, times: u32) -> (String, StoredDialerContact) {
        let now = Utc::now();
        (
            id.to_owned(),
            StoredDialerContact {
                id: id.to_owned(),
                contact_list_id: "l".into(),
                data: BTreeMap::from([("contact_id".to_owned(), contact.to_owned())]),
                callable: None,
                extra: Default::default(),
                date_created: now,
                updated_at: now,
                times_pushed: times,
            },
        )
    }

    #[test]
    fn each_eligible_contact_must_be_in_the_dialer_once() {
        let eligible: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        let lists = BTreeMap::from([
            (
                "voice".to_owned(),
                DialerList {
                    upserts: 0,
                    contacts: BTreeMap::from([
                        stored("1", "a", 1),
                        stored("2", "b", 3),
                        stored("3", "c", 1),
                    ]),
                },
            ),
            (
                "email".to_owned(),
                DialerList {
                    upserts: 0,
                    contacts: BTreeMap::from([stored("4", "c", 1), stored("5", "z", 1)]),
                },
            ),
        ]);
        let t = tally(&eligible, &lists);
        assert_eq!(
            t,
            DialerTally {
                eligible: 4,
                once: 2,
                missing: 1,
                twice: 1,
                unexpected: 1,
                repushed_same_id: 2,
            }
        );
        assert!(t.failed());
        let fine = DialerTally {
            eligible: 2,
            once: 2,
            repushed_same_id: 5,
            ..DialerTally::default()
        };
        assert!(!fine.failed(), "a re-push under the same id is an upsert");
        for contact in rising("x") {
            assert!(contact["score"].is_number());
        }
    }
}
