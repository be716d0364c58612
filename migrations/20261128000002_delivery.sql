-- The delivery stage: per-contact stream state, dead letters, and the cluster-wide rate bucket.

-- One row per contact pesync has delivered for. `newest_realtime_ts` is the newest event timestamp
-- delivered on the real-time lane (the late-arrival rule compares with it); `last_delivered_at` tells
-- the profile poller which contacts have news.
CREATE TABLE contacts (
    contact_id         text PRIMARY KEY,
    newest_realtime_ts timestamptz,
    last_delivered_at  timestamptz
);
CREATE INDEX contacts_last_delivered ON contacts (last_delivered_at);

-- Events PE refused for good (a 4xx other than 401/409/429). The event row moves to state
-- 'dead_letter'; replay puts it back in its lane.
CREATE TABLE dead_letters (
    id            uuid PRIMARY KEY,
    seq           bigint GENERATED ALWAYS AS IDENTITY,
    event_id      uuid        NOT NULL REFERENCES events (id),
    contact_id    text        NOT NULL,
    request_id    uuid        NOT NULL,
    status        integer     NOT NULL,
    response_body text        NOT NULL,
    failed_at     timestamptz NOT NULL,
    state         text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'replayed')),
    replayed_at   timestamptz
);
CREATE INDEX dead_letters_open ON dead_letters (seq) WHERE state = 'open';

-- The rate ceiling behind PESYNC_PE_RATE_LIMIT, shared by every instance (see genesys/ratelimit.rs).
-- Times here are the database's clock, the one clock all instances share.
CREATE TABLE rate_buckets (
    name         text PRIMARY KEY,
    tokens       double precision NOT NULL,
    refilled_at  timestamptz      NOT NULL,
    paused_until timestamptz      NOT NULL DEFAULT '-infinity'
);

-- Counters for /v1/admin/stats and /metrics that must be cluster-wide (per-process counters are not).
CREATE INDEX events_delivered ON events (delivered_at) WHERE state = 'delivered';
