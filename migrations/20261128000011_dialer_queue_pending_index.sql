-- One index for the dialer queue's pending items instead of two. The unique index on
-- (campaign_id, contact_id) kept one pending item per campaign and contact, and a second index on
-- contact_id served the evaluation run's "is a hand-over pending for these contacts" lookup. With the
-- columns the other way round the unique index serves both (ON CONFLICT infers it from the same set
-- of columns), and every queued contact maintains one index fewer.
CREATE UNIQUE INDEX dialer_queue_one_pending_per_contact
    ON dialer_queue (contact_id, campaign_id) WHERE state = 'pending';
DROP INDEX dialer_queue_one_pending;
DROP INDEX dialer_queue_pending_by_contact;
