-- The rate ceiling becomes a sliding one-second log instead of a token bucket: what was sent in the
-- last second is recorded as (instant, count) pairs, so a pause in sending is made up afterwards
-- instead of being lost, while no one-second window ever holds more than the ceiling.
ALTER TABLE rate_buckets
    ADD COLUMN sent_at timestamptz[] NOT NULL DEFAULT '{}',
    ADD COLUMN sent_n  integer[]     NOT NULL DEFAULT '{}';
ALTER TABLE rate_buckets DROP COLUMN tokens, DROP COLUMN refilled_at;
