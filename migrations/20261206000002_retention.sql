-- Retention (docs/RETENTION.md): an hourly, cluster-wide prune job deletes what is no longer needed in
-- small batches. These indexes let each batch find its oldest rows without scanning a table, and the
-- counters below are the cluster-wide "rows pruned" figures of /metrics and /v1/admin/stats.

-- Rows pruned per table, all instances, all time (bumped in the statement that deletes them).
CREATE TABLE retention_pruned (
    name text PRIMARY KEY,
    rows bigint NOT NULL DEFAULT 0
);
INSERT INTO retention_pruned (name) VALUES
    ('dedup_keys'), ('events'), ('dead_letters'), ('quarantine'), ('decisions'),
    ('score_snapshots'), ('score_observations'), ('handovers'), ('dialer_queue');

-- Expired dedup keys, oldest first.
CREATE INDEX dedup_keys_first_seen ON dedup_keys (first_seen);
-- Delivered events already have `events_delivered (delivered_at) WHERE state = 'delivered'`.
-- Discarded reconciliation items (few; the partial index costs other rows nothing).
CREATE INDEX events_discarded ON events (received_at) WHERE state = 'discarded';
-- Dead letters by age, and by event: deleting an event checks the foreign key from dead_letters,
-- which without this index is a scan of dead_letters per deleted event.
CREATE INDEX dead_letters_failed ON dead_letters (failed_at);
CREATE INDEX dead_letters_by_event ON dead_letters (event_id);
-- Resolved quarantine items.
CREATE INDEX quarantine_resolved ON quarantine (resolved_at) WHERE state <> 'open';
-- The append-only logs, oldest first with a total order so a run walks each once with a cursor.
-- (On an append-only table a key that only grows is one more rightmost-leaf insert per row.)
CREATE INDEX decisions_by_age ON decisions (evaluated_at, seq);
CREATE INDEX score_snapshots_by_age ON score_snapshots (fetched_at, id);
CREATE INDEX score_observations_by_age ON score_observations (observed_at, contact_id);
CREATE INDEX handovers_by_age ON handovers (at, id);
-- Settled dialer-queue items: handed over (at the hand-over) or rejected (at queueing).
CREATE INDEX dialer_queue_settled ON dialer_queue ((COALESCE(handed_over_at, queued_at)))
    WHERE state <> 'pending';
