-- Dry runs of a mapping or manifest (issue 11 §1) read the events received since an instant, in
-- pages by arrival: (received_at, seq) is their keyset. Arrival order keeps inserts at the right
-- edge of the index, so ingestion pays little for it.
CREATE INDEX events_received ON events (received_at, seq);
