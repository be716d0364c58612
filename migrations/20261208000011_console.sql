-- The console's per-minute chart counts the events quarantined in each of the last minutes (up to a
-- day, GET /v1/admin/stats/series). Without this index each refresh scans the whole quarantine,
-- resolved items included, and a mapping gone wrong can fill it with millions of rows. Only
-- quarantined events pay for the index; events that pass do not.
CREATE INDEX quarantine_received ON quarantine (received_at);
