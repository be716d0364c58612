-- The ingestion stage: sources, manifests, thresholds, the event store, dedup keys and the quarantine.
-- Every instant is written by the application from its (injectable) clock, never by now(), so tests can
-- cross the 24 h dedup window or the 7-day backfill age without sleeping.

CREATE TABLE sources (
    name            text PRIMARY KEY,
    signing_secret  text        NOT NULL,
    mapping_version integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- Every mapping a source ever had; events record the version they were normalized with.
CREATE TABLE source_mappings (
    source     text        NOT NULL REFERENCES sources (name) ON DELETE CASCADE,
    version    integer     NOT NULL,
    mapping    jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (source, version)
);

CREATE TABLE manifests (
    version      integer PRIMARY KEY,
    document     jsonb       NOT NULL,
    active       boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    activated_at timestamptz
);
-- At most one active manifest, enforced by the database rather than by care.
CREATE UNIQUE INDEX manifests_one_active ON manifests (active) WHERE active;

INSERT INTO manifests (version, document, active, created_at, activated_at) VALUES (1, '{
  "event_types": {
    "crm.transaction": {"attributes": {
      "crm_record_id":     {"type": "string", "presence": "required"},
      "transaction_value": {"type": "number", "presence": "required"},
      "product_category":  {"type": "string", "presence": "optional"},
      "payment_status":    {"type": "string", "presence": "optional"},
      "channel_origin":    {"type": "string", "presence": "optional"}}},
    "crm.behavior": {"attributes": {
      "crm_record_id":            {"type": "string",  "presence": "required"},
      "session_duration_seconds": {"type": "integer", "presence": "optional"},
      "pages_viewed":             {"type": "integer", "presence": "optional"},
      "channel_origin":           {"type": "string",  "presence": "optional"}}}}}', true, now(), now());

-- Thresholds are versioned; the newest version is in force. The history is the audit log.
CREATE TABLE thresholds (
    version    integer PRIMARY KEY,
    document   jsonb       NOT NULL,
    before     jsonb,
    changed_by text        NOT NULL,
    changed_at timestamptz NOT NULL
);
INSERT INTO thresholds (version, document, before, changed_by, changed_at) VALUES (1, '{
  "high_tier": 0.75, "moderate_tier": 0.40, "min_rise": 0.10, "rise_window_seconds": 86400,
  "dampening_delta": 0.05, "dampening_window_seconds": 3600, "cooldown_seconds": 259200,
  "skew_tolerance_seconds": 300, "backfill_age_seconds": 604800, "future_tolerance_seconds": 300,
  "dedup_window_seconds": 86400, "ordering_hold_seconds": 2}', NULL, 'migration', now());

-- The event store. `seq` is arrival order (the tie-breaker for equal timestamps).
-- state: pending (in a lane, not yet delivered) | delivered | dead_letter | reconciliation | discarded
CREATE TABLE events (
    id               uuid PRIMARY KEY,
    seq              bigint GENERATED ALWAYS AS IDENTITY,
    source           text        NOT NULL,
    contact_id       text        NOT NULL,
    event_type       text        NOT NULL,
    event_timestamp  timestamptz NOT NULL,
    attributes       jsonb       NOT NULL,
    raw              jsonb       NOT NULL,
    request_id       uuid        NOT NULL,
    dedup_key        bytea       NOT NULL,
    mapping_version  integer     NOT NULL,
    manifest_version integer     NOT NULL,
    received_at      timestamptz NOT NULL,
    lane             text CHECK (lane IN ('realtime', 'backfill')),
    state            text        NOT NULL CHECK (state IN ('pending', 'delivered', 'dead_letter', 'reconciliation', 'discarded')),
    route_reason     text,
    attempts         integer     NOT NULL DEFAULT 0,
    delivered_at     timestamptz,
    CHECK (state <> 'pending' OR lane IS NOT NULL)
);
-- A delivery worker finds a contact's head event (smallest timestamp, then arrival) with this index.
CREATE INDEX events_pending_head ON events (contact_id, lane, event_timestamp, seq) WHERE state = 'pending';
CREATE INDEX events_by_contact ON events (contact_id, event_timestamp);
CREATE INDEX events_reconciliation ON events (received_at, id) WHERE state = 'reconciliation';

-- One row per dedup key: the first time it was seen within the window. A later event with the same key
-- replaces the row only once the window has passed (see ingest::store).
CREATE TABLE dedup_keys (
    dedup_key  bytea PRIMARY KEY,
    first_seen timestamptz NOT NULL,
    event_id   uuid        NOT NULL
);

-- The delivery queue claims contacts, not events: one row per (contact, lane) with work. Only the lease
-- holder touches a contact's events, which is what keeps per-contact order across instances.
-- `generation` is bumped by every enqueue so a worker never deletes a row that gained work meanwhile.
CREATE TABLE delivery_queue (
    contact_id  text        NOT NULL,
    lane        text        NOT NULL CHECK (lane IN ('realtime', 'backfill')),
    ready_at    timestamptz NOT NULL,
    lease_until timestamptz NOT NULL DEFAULT '-infinity',
    failures    integer     NOT NULL DEFAULT 0,
    generation  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (contact_id, lane)
);
CREATE INDEX delivery_queue_ready ON delivery_queue (lane, ready_at);

CREATE TABLE quarantine (
    id          uuid PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    source      text        NOT NULL,
    reason      text        NOT NULL,
    detail      text        NOT NULL,
    raw         jsonb       NOT NULL,
    received_at timestamptz NOT NULL,
    state       text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'replayed', 'discarded')),
    resolved_at timestamptz
);
CREATE INDEX quarantine_open ON quarantine (seq) WHERE state = 'open';
