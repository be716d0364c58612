-- The scoring and campaign stages (SPEC §7, §8): campaigns, profile snapshots and score observations,
-- the poller's and the evaluation run's per-contact bookkeeping, decisions, deferrals, hand-overs, and
-- the dialer queue (push outbox and pull feed). As everywhere, instants come from the application's
-- clock, never from now().

-- Campaign documents (SPEC §8). `priority` and `enabled` are copied out of the document so the run can
-- select and order campaigns without parsing every document. `seq` orders the paginated list.
-- `revision` is bumped whenever a document changes: the next evaluation run then looks at every
-- scored contact again, since a new or changed campaign has decided nothing about them yet.
CREATE SEQUENCE campaign_revision;
CREATE TABLE campaigns (
    id         text PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    document   jsonb       NOT NULL,
    priority   integer     NOT NULL,
    enabled    boolean     NOT NULL,
    revision   bigint      NOT NULL DEFAULT nextval('campaign_revision'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The newest campaign revision a completed evaluation run has looked at every contact for.
CREATE TABLE evaluation_state (
    id                boolean PRIMARY KEY DEFAULT true CHECK (id),
    campaign_revision bigint NOT NULL
);
INSERT INTO evaluation_state (campaign_revision) VALUES (0);

-- Every successful profile poll (SPEC §7 "Polling"): the observed score at the fetch time, the channel,
-- the window and the raw body.
CREATE TABLE score_snapshots (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id           text        NOT NULL,
    fetched_at           timestamptz NOT NULL,
    score                double precision,
    channel              text,
    best_window          jsonb,
    last_event_timestamp timestamptz,
    raw                  jsonb       NOT NULL
);
CREATE INDEX score_snapshots_by_contact ON score_snapshots (contact_id, fetched_at DESC, id DESC);

-- Score observations: one per snapshot (`poll`, at the fetch time) and one per `score_history` point
-- (`history`), each stored once. The primary key is also the index the run reads a contact's series by.
CREATE TABLE score_observations (
    contact_id  text             NOT NULL,
    observed_at timestamptz      NOT NULL,
    source      text             NOT NULL CHECK (source IN ('poll', 'history')),
    score       double precision NOT NULL,
    recorded_at timestamptz      NOT NULL,
    PRIMARY KEY (contact_id, observed_at, source)
);

-- Bumped whenever a contact gains observations (clock-independent, so a standing test clock cannot
-- hide one).
CREATE SEQUENCE observation_seq;

-- One row per contact that was ever polled: the poller's state (when it last got a profile, when to try
-- again after a 404 or a failure), and the latest profile (channel and window, copied from the newest
-- snapshot so the run reads one row per contact).
CREATE TABLE contact_scores (
    contact_id       text PRIMARY KEY,
    last_polled_at   timestamptz,
    next_poll_at     timestamptz NOT NULL DEFAULT '-infinity',
    poll_failures    integer     NOT NULL DEFAULT 0,
    last_poll_status integer,
    channel          text,
    best_window      jsonb,
    observed_seq     bigint      NOT NULL DEFAULT 0
);

-- The contacts with an observation newer than their last decision: the poller adds a contact when it
-- stores new observations, the run removes it once evaluated (unless newer ones arrived meanwhile).
-- A queue rather than a watermark column on contact_scores, so a run over a million contacts deletes
-- narrow rows instead of rewriting wide ones.
CREATE TABLE evaluation_queue (
    contact_id   text PRIMARY KEY,
    observed_seq bigint NOT NULL
);

-- Every evaluation of a contact for a campaign (SPEC §7): the reason, the scores, every rule's outcome.
-- No foreign key to campaigns: decisions are the audit trail and outlive a deleted campaign. An
-- append-only log with a single index, "newest first per contact" (scanned backwards), and no key to
-- check on insert: a run over a million contacts writes two million rows here, and every index or
-- uniqueness check on them is time the run spends.
CREATE TABLE decisions (
    -- Orders decisions made at the same instant (a test clock standing still); not indexed. No
    -- sequence cache: cached blocks per connection would number concurrent writers out of order.
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    contact_id      text        NOT NULL,
    campaign_id     text        NOT NULL,
    evaluated_at    timestamptz NOT NULL,
    reason          text        NOT NULL,
    tier            text,
    effective_score double precision,
    rise            double precision,
    channel         text,
    window_open     boolean,
    next_opening    timestamptz,
    cooldown_until  timestamptz,
    taken_by        text,
    -- Every rule in SPEC order: `true` when it passed, else the sentence saying why it failed (the
    -- numbers behind a passed rule are the columns above). See decisions::outcomes.
    outcomes        jsonb       NOT NULL
);
CREATE INDEX decisions_by_contact ON decisions (contact_id, evaluated_at);

-- Contacts deferred to their window's next opening, per campaign; the run evaluates them again then.
CREATE TABLE deferrals (
    contact_id   text        NOT NULL,
    campaign_id  text        NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    next_opening timestamptz NOT NULL,
    deferred_at  timestamptz NOT NULL,
    PRIMARY KEY (contact_id, campaign_id)
);
CREATE INDEX deferrals_due ON deferrals (next_opening);

-- Every hand-over to the dialer (a successful push, or an acknowledged pull). The newest one per
-- contact starts the cooldown, across all campaigns. Kept when a campaign is deleted.
CREATE TABLE handovers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_id  text        NOT NULL,
    campaign_id text        NOT NULL,
    channel     text        NOT NULL,
    mode        text        NOT NULL CHECK (mode IN ('push', 'pull')),
    at          timestamptz NOT NULL
);
CREATE INDEX handovers_by_contact ON handovers (contact_id, at DESC);

-- Contacts on their way to the dialer: the push outbox (`mode = 'push'`, retried until the dialer takes
-- them) and the pull feed (`mode = 'pull'`, leased to a caller until acknowledged). `contact` is the
-- WritableDialerContact exactly as it is sent. While an item is pending the contact is not offered to
-- another campaign; the cooldown starts when it is handed over.
CREATE TABLE dialer_queue (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    campaign_id     text        NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id      text        NOT NULL,
    mode            text        NOT NULL CHECK (mode IN ('push', 'pull')),
    dialer_id       text        NOT NULL,
    contact_list_id text        NOT NULL,
    channel         text        NOT NULL,
    contact         jsonb       NOT NULL,
    queued_at       timestamptz NOT NULL,
    ready_at        timestamptz NOT NULL,
    failures        integer     NOT NULL DEFAULT 0,
    last_status     integer,
    last_error      text,
    leased_at       timestamptz,
    lease_until     timestamptz NOT NULL DEFAULT '-infinity',
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'handed_over', 'rejected')),
    handed_over_at  timestamptz
);
-- At most one pending item per campaign and contact; a re-evaluation refreshes it.
CREATE UNIQUE INDEX dialer_queue_one_pending ON dialer_queue (campaign_id, contact_id) WHERE state = 'pending';
CREATE INDEX dialer_queue_pending_by_contact ON dialer_queue (contact_id) WHERE state = 'pending';
CREATE INDEX dialer_queue_ready ON dialer_queue (mode, campaign_id, ready_at, id) WHERE state = 'pending';
CREATE INDEX dialer_queue_by_dialer_id ON dialer_queue (dialer_id);
