-- Ingestion's way into the delivery queue (issue 12 §3). A request appends one row here, in its own
-- transaction, naming the contacts it gave work to; the inbox drain moves the rows into
-- delivery_queue. The append is one tuple per request, where upserting one queue row per contact was
-- a locked write per contact that concurrent requests for the same contacts queued behind.
-- Nothing is lost: a row commits with its events, and the drain deletes it in the transaction that
-- enqueues its contacts. A worker that deletes an idle queue row while a request is still open
-- loses nothing either: the request's inbox row brings the contact back once it commits.
CREATE TABLE delivery_inbox (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- When the request's events may be sent: received + the ordering hold.
    ready_at  timestamptz NOT NULL,
    realtime  text[]      NOT NULL,
    backfill  text[]      NOT NULL
);
