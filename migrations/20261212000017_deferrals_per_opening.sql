-- One deferral row per contact and opening, not per contact and campaign (issue 12). A contact is
-- deferred to its own window's opening for every campaign that waits for it, so the run wrote two
-- rows (and four index entries) where one does: the benchmark's run wrote 512,379 deferrals for
-- 330,859 distinct (contact, opening) pairs. The run reads only the contact and the opening (the
-- due contacts, the poller), so nothing it decides changes; `campaign_ids` (space-separated, as in
-- `decision_runs`: a campaign id holds no space) keeps which campaigns wait, for the console's
-- buckets (which count pairs) and for deleting a campaign. `deferred_pairs` reads them back one
-- row per campaign.

CREATE TABLE deferrals_per_opening (
    contact_id   text        NOT NULL,
    next_opening timestamptz NOT NULL,
    campaign_ids text        NOT NULL,
    deferred_at  timestamptz NOT NULL,
    PRIMARY KEY (contact_id, next_opening)
);
INSERT INTO deferrals_per_opening (contact_id, next_opening, campaign_ids, deferred_at)
SELECT contact_id, next_opening, string_agg(campaign_id, ' ' ORDER BY campaign_id), max(deferred_at)
FROM deferrals GROUP BY contact_id, next_opening;
DROP TABLE deferrals;
ALTER TABLE deferrals_per_opening RENAME TO deferrals;
ALTER INDEX deferrals_per_opening_pkey RENAME TO deferrals_pkey;
CREATE INDEX deferrals_due ON deferrals (next_opening);

CREATE VIEW deferred_pairs AS
SELECT d.contact_id, k.campaign_id, d.next_opening, d.deferred_at
FROM deferrals d CROSS JOIN LATERAL unnest(string_to_array(d.campaign_ids, ' ')) AS k(campaign_id);

-- Deleting a campaign takes it out of every deferral, and drops the deferrals left with none.
CREATE OR REPLACE FUNCTION campaign_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deferrals
    SET campaign_ids = array_to_string(array_remove(string_to_array(campaign_ids, ' '), OLD.id), ' ')
    WHERE OLD.id = ANY(string_to_array(campaign_ids, ' '));
    DELETE FROM deferrals WHERE campaign_ids = '';
    DELETE FROM dialer_queue WHERE campaign_id = OLD.id;
    RETURN OLD;
END $$;
