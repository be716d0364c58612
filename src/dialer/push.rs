//! Push mode (SPEC §7 "The dialer"): queued contacts go to
//! `POST …/outbound/contactlists/{contactListId}/contacts`, at most 1,000 per request, through the
//! shared Genesys client (so under the cluster-wide rate ceiling). Retry rules are SPEC §5's: 2xx
//! and 409 hand the contacts over (the cooldown starts), 429 and 5xx leave them queued for a later
//! attempt, another 4xx takes them out of the queue with the answer recorded. A contact is never
//! lost on the way: it leaves the queue only when the dialer took it or refused it. A crash between
//! the dialer's 2xx and our commit re-pushes the same `id`, which the dialer treats as an update.

use serde::Serialize;

use super::contact::{MAX_CONTACTS_PER_PUSH, batches};
use super::queue::{self, PushItem};
use crate::dialer::metrics::HAND_OVERS;
use crate::genesys::{GenesysClient, Verdict, backoff, verdict};
use crate::platform::context::AppState;
use crate::registry::suppressions;

/// How many due pushes are read at a time.
const READ_AHEAD: i64 = 5 * MAX_CONTACTS_PER_PUSH as i64;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PushReport {
    /// Requests sent to the dialer.
    pub requests: u64,
    /// Contacts the dialer took (handed over).
    pub handed_over: u64,
    /// Contacts the dialer refused for good.
    pub rejected: u64,
    /// Contacts left queued for a later attempt.
    pub retrying: u64,
    /// Contacts withdrawn because they were suppressed while queued.
    pub withdrawn: u64,
}

/// Pushes every due contact, oldest first, batched per contact list. Stops at the first retryable
/// failure: the dialer (or the tenant's rate limit) is unwell, and the next tick tries again.
pub async fn push_once(state: &AppState, client: &GenesysClient) -> anyhow::Result<PushReport> {
    let mut report = PushReport::default();
    loop {
        // A contact suppressed after it was queued is withdrawn, not pushed (and `ready_pushes`
        // skips any suppressed in between).
        let now = state.clock.now();
        report.withdrawn +=
            suppressions::withdraw_suppressed(&state.pool, "push", None, now).await?;
        let due = queue::ready_pushes(&state.pool, now, READ_AHEAD).await?;
        if due.is_empty() {
            return Ok(report);
        }
        let grouped = batches(
            due.into_iter().map(|i| (i.contact_list_id.clone(), i)),
            MAX_CONTACTS_PER_PUSH,
        );
        for (list, items) in grouped {
            if !push_batch(state, client, &list, &items, &mut report).await? {
                return Ok(report);
            }
        }
    }
}

/// One request. `false` when the batch must be retried later.
async fn push_batch(
    state: &AppState,
    client: &GenesysClient,
    list: &str,
    items: &[PushItem],
    report: &mut PushReport,
) -> anyhow::Result<bool> {
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let body = serde_json::Value::Array(items.iter().map(|i| i.contact.clone()).collect());
    let result = client.push_contacts(list, &body).await;
    report.requests += 1;
    let now = state.clock.now();
    let (status, text) = match &result {
        Ok(r) => (Some(i32::from(r.status)), truncate(&r.body)),
        Err(e) => (None, e.to_string()),
    };
    match verdict(&result) {
        Verdict::Done => {
            let mut tx = state.pool.begin().await?;
            let n = queue::hand_over(&mut tx, &ids, now).await?;
            tx.commit().await?;
            report.handed_over += n;
            HAND_OVERS.handed_over(true, n);
            tracing::info!(
                contact_list = list,
                contacts = n,
                "contacts pushed to the dialer"
            );
            Ok(true)
        }
        Verdict::Reject => {
            queue::reject(&state.pool, &ids, status, &text).await?;
            report.rejected += ids.len() as u64;
            HAND_OVERS.rejected(ids.len() as u64);
            tracing::warn!(contact_list = list, contacts = ids.len(), ?status, body = %text,
                "the dialer refused a batch of contacts");
            Ok(true)
        }
        Verdict::RetryAfter(wait) => {
            retry(state, &ids, now, wait, status, &text, report).await?;
            Ok(false)
        }
        Verdict::Backoff(cause) => {
            let failures = items.iter().map(|i| i.failures).max().unwrap_or(0);
            let wait = backoff(u32::try_from(failures).unwrap_or(0).saturating_add(1));
            tracing::debug!(cause = cause.as_str(), "dialer push backing off");
            retry(state, &ids, now, wait, status, &text, report).await?;
            Ok(false)
        }
    }
}

async fn retry(
    state: &AppState,
    ids: &[i64],
    now: chrono::DateTime<chrono::Utc>,
    wait: std::time::Duration,
    status: Option<i32>,
    text: &str,
    report: &mut PushReport,
) -> anyhow::Result<()> {
    let wait = chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::MAX);
    let at = now.checked_add_signed(wait).unwrap_or(now);
    queue::retry_later(&state.pool, ids, at, status, text).await?;
    HAND_OVERS.push_retry();
    report.retrying += ids.len() as u64;
    tracing::warn!(contacts = ids.len(), ?status, error = %text, retry_at = %at,
        "dialer push failed; retrying later");
    Ok(())
}

/// Response bodies are kept for the operator, but not without bound.
fn truncate(body: &str) -> String {
    const MAX: usize = 2000;
    if body.len() <= MAX {
        return body.to_owned();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}
