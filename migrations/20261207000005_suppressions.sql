-- The suppression list (issue 11 §4): contacts that must never be called. A suppressed contact gets
-- the decision `suppressed`, is never pushed nor leased, and is withdrawn from the dialer queue. An
-- expiry in the past means the contact is no longer suppressed (compared with the application's
-- clock, never now()). `seq` orders the paginated list; an update keeps the row's place.
CREATE TABLE suppressions (
    contact_id text PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    expires_at timestamptz,
    note       text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- A queued contact that was suppressed leaves the queue as `withdrawn` (kept for the audit trail and
-- pruned by retention like the other settled items).
ALTER TABLE dialer_queue DROP CONSTRAINT dialer_queue_state_check;
ALTER TABLE dialer_queue ADD CONSTRAINT dialer_queue_state_check
    CHECK (state IN ('pending', 'handed_over', 'rejected', 'withdrawn'));
