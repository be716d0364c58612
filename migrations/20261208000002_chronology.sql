-- Chronological consistency (issue 11 §2). `contacts.newest_delivered_ts` is the newest event
-- timestamp pesync delivered for the contact (kept here because retention prunes delivered events);
-- `contact_chronology` is each polled contact's latest comparison of PE's `last_event_timestamp`
-- with it.
ALTER TABLE contacts ADD COLUMN newest_delivered_ts timestamptz;
UPDATE contacts c SET newest_delivered_ts = e.newest
FROM (SELECT contact_id, max(event_timestamp) AS newest FROM events
      WHERE state = 'delivered' GROUP BY contact_id) e
WHERE e.contact_id = c.contact_id;

CREATE TABLE contact_chronology (
    contact_id          text PRIMARY KEY,
    state               text        NOT NULL CHECK (state IN ('consistent', 'lag', 'inversion', 'unknown')),
    pe_last_event_at    timestamptz,
    newest_delivered_at timestamptz,
    checked_at          timestamptz NOT NULL
);
CREATE INDEX contact_chronology_by_state ON contact_chronology (state);
