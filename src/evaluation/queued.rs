//! The contacts one batch of the run queues for the dialer (push outbox or pull feed), and how they
//! are written: a contact already pending for the same campaign has its item refreshed in place;
//! every other one is a new item, written with binary COPY.
//!
//! Why not one `INSERT … ON CONFLICT DO UPDATE`: the batch already locks its contacts' pending
//! items (see [`QueuedContacts::lock_pending`]), so it knows which pairs have one, and a
//! speculative insertion per row (check the unique index, insert, confirm) cost PostgreSQL about a
//! third more per queued contact than a plain insert (measured: 182,344 rows in 2.7 s against
//! 1.9 s). Only the evaluation run, under its cluster-wide lock, ever adds pending items, and a
//! batch holds each contact once: nothing else can add a pair between the lock and the COPY. Were
//! one added anyway, the unique index `dialer_queue_one_pending_per_contact` would fail the batch,
//! whose contacts then stay in the evaluation queue for the next run: never a second pending item.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::dialer::contact::DialerContact;
use crate::eligibility::{Campaign, Mode};
use crate::platform::db::copy::{BinaryCopy, copy_in};

const COPY_QUEUE: &str = "COPY dialer_queue (campaign_id, contact_id, mode, dialer_id, \
     contact_list_id, channel, contact, queued_at, ready_at) FROM STDIN (FORMAT binary)";

/// One contact queued by one campaign.
#[derive(Debug)]
struct Item {
    campaign_id: String,
    mode: Mode,
    contact: DialerContact,
    /// The contact had a pending item (for any campaign) when its batch was loaded.
    pending_at_load: bool,
}

/// The queued contacts of one batch.
#[derive(Debug, Default)]
pub struct QueuedContacts {
    items: Vec<Item>,
}

/// The pending items of a batch's queued contacts: per contact, (campaign, item id).
#[derive(Debug, Default)]
pub struct PendingItems(HashMap<String, Vec<(String, i64)>>);

impl PendingItems {
    /// The id of `contact_id`'s pending item for `campaign_id`, if it has one.
    fn get(&self, contact_id: &str, campaign_id: &str) -> Option<i64> {
        let items = self.0.get(contact_id)?;
        items
            .iter()
            .find(|(c, _)| c == campaign_id)
            .map(|(_, id)| *id)
    }
}

impl QueuedContacts {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Queues `contact` for `campaign`; `pending_at_load` says whether the contact had a pending
    /// item when its batch was loaded (`load::Candidate::pending`).
    pub fn push(&mut self, campaign: &Campaign, contact: DialerContact, pending_at_load: bool) {
        self.items.push(Item {
            campaign_id: campaign.id.clone(),
            mode: campaign.mode,
            contact,
            pending_at_load,
        });
    }

    /// The queued contacts that had a pending item when their batch was loaded: the only ones
    /// that can have one when the batch writes, or have been handed over since the load.
    ///
    /// Pending items are added by the evaluation run alone, under its cluster-wide lock, and only
    /// by the batch that decides the contact (see the module's note), and a hand-over takes a
    /// pending item (`dialer::queue::hand_over`). So a contact the load saw without one still has
    /// none and was not handed over: the batch neither locks nor looks up anything for it. In a
    /// large run most queued contacts are such, and the two lookups by id cost PostgreSQL about
    /// 0.8 CPU-s a million-contact run (five alternating pairs: 9.74 CPU-s against 10.55 at the
    /// median; docs/BENCHMARKS.md).
    pub fn pending_at_load_ids(&self) -> Vec<String> {
        let ids = self.items.iter().filter(|i| i.pending_at_load);
        ids.map(|i| i.contact.data.contact_id.clone()).collect()
    }

    /// The campaigns the items are queued for, one per item.
    pub fn campaign_ids(&self) -> impl Iterator<Item = &String> {
        self.items.iter().map(|i| &i.campaign_id)
    }

    /// Locks the pending items of the queued contacts that had one at load (`ids`,
    /// [`Self::pending_at_load_ids`]) and returns them. It waits for an
    /// acknowledgement in flight on them and holds later ones off until the batch commits (they
    /// then hand over the refreshed item). The locks are taken in the acknowledgement's own order
    /// (newest id first), so the two never deadlock. In READ COMMITTED the next statement then sees
    /// every hand-over committed before it.
    pub async fn lock_pending(tx: &mut PgConnection, ids: &[String]) -> sqlx::Result<PendingItems> {
        if ids.is_empty() {
            return Ok(PendingItems::default());
        }
        let rows = sqlx::query!(
            r#"SELECT id, contact_id, campaign_id FROM dialer_queue
               WHERE contact_id = ANY($1) AND state = 'pending'
               ORDER BY id DESC FOR UPDATE"#,
            ids
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut pending = PendingItems::default();
        for r in rows {
            let items = pending.0.entry(r.contact_id).or_default();
            items.push((r.campaign_id, r.id));
        }
        Ok(pending)
    }

    /// Writes the items of every contact but those in `skip`, for the campaigns in `live` (a
    /// campaign deleted since the run loaded it has no queue any more).
    pub async fn write(
        &self,
        tx: &mut PgConnection,
        now: DateTime<Utc>,
        pending: &PendingItems,
        live: &HashSet<String>,
        skip: &HashSet<&str>,
    ) -> sqlx::Result<()> {
        let mut refresh = Refresh::default();
        let mut new = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let contact_id = item.contact.data.contact_id.as_str();
            if skip.contains(contact_id) || !live.contains(&item.campaign_id) {
                continue;
            }
            match pending.get(contact_id, &item.campaign_id) {
                Some(id) => refresh.push(id, item),
                None => new.push(item),
            }
        }
        refresh.write(tx).await?;
        copy_in(tx, COPY_QUEUE, new, |c, item| encode(c, item, now)).await?;
        Ok(())
    }
}

/// A new pending item, queued and ready now.
fn encode(copy: &mut BinaryCopy, item: &Item, now: DateTime<Utc>) {
    let c = &item.contact;
    copy.row(9)
        .text(&item.campaign_id)
        .text(&c.data.contact_id)
        .text(item.mode.as_str())
        .text(&c.id)
        .text(&c.contact_list_id)
        .text(&c.data.channel)
        .jsonb(c)
        .timestamptz(now)
        .timestamptz(now);
}

/// Pending items refreshed with this run's document (the dialer gets the current score, tier and
/// window); when they were queued, and so their place in the queue, stays. An item whose document
/// did not change is left as it is: a full pass after a campaign change refreshes every pending
/// item, most of them to what they were, and each update writes a new row version and its index
/// entries (5.9 s of a 1M-contact full pass for 174k unchanged items).
#[derive(Debug, Default)]
struct Refresh {
    id: Vec<i64>,
    mode: Vec<&'static str>,
    list: Vec<String>,
    channel: Vec<String>,
    body: Vec<String>,
}

impl Refresh {
    fn push(&mut self, id: i64, item: &Item) {
        let c = &item.contact;
        self.id.push(id);
        self.mode.push(item.mode.as_str());
        self.list.push(c.contact_list_id.clone());
        self.channel.push(c.data.channel.clone());
        self.body
            .push(serde_json::to_string(c).expect("a dialer contact serializes"));
    }

    async fn write(&self, tx: &mut PgConnection) -> sqlx::Result<()> {
        if self.id.is_empty() {
            return Ok(());
        }
        sqlx::query!(
            r#"UPDATE dialer_queue q
               SET mode = x.m, contact_list_id = x.l, channel = x.ch, contact = x.b::jsonb
               FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[])
                    AS x(id, m, l, ch, b)
               WHERE q.id = x.id
                 AND (q.mode, q.contact_list_id, q.channel, q.contact)
                     IS DISTINCT FROM (x.m, x.l, x.ch, x.b::jsonb)"#,
            &self.id,
            &self.mode as &[&str],
            &self.list,
            &self.channel,
            &self.body,
        )
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialer::contact::DialerData;

    fn contact(id: &str) -> DialerContact {
        DialerContact {
            id: format!("dialer-{id}"),
            contact_list_id: "list".into(),
            data: DialerData {
                contact_id: id.into(),
                campaign: "a".into(),
                channel: "voice".into(),
                propensity_score: "0.8".into(),
                tier: "high".into(),
                window_start: "09:00:00".into(),
                window_end: "17:00:00".into(),
                timezone: "UTC".into(),
            },
            callable: true,
        }
    }

    #[test]
    fn only_contacts_pending_at_load_are_named_for_the_lock_and_the_hand_over_lookup() {
        let campaign = Campaign::open_all_day("a", 1);
        let mut queued = QueuedContacts::default();
        queued.push(&campaign, contact("c-1"), false);
        queued.push(&campaign, contact("c-2"), true);
        queued.push(&campaign, contact("c-3"), false);
        assert_eq!(queued.len(), 3);
        assert_eq!(queued.pending_at_load_ids(), ["c-2"]);
    }
}
