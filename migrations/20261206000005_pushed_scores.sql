-- Scores pushed through `POST /v1/scores` (issue 10 §4): an observation with source `pushed`, stored
-- once per (contact, observed_at, source) like polled ones.
ALTER TABLE score_observations DROP CONSTRAINT score_observations_source_check;
ALTER TABLE score_observations ADD CONSTRAINT score_observations_source_check
    CHECK (source IN ('poll', 'history', 'pushed'));
