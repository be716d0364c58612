-- A run's decision row keeps its per-campaign parts as text, not as eight arrays (issue 12). COPY
-- receives an array element by element (a header, a type check and a datum for each), which made
-- the arrays over a third of the cost of the run's largest write: in psql, one binary COPY of a
-- million rows like the run's took 4.9 backend CPU-s with the eight arrays, 3.1 with these three
-- texts (medians of three, docs/BENCHMARKS.md).
--
--   campaign_ids  the run's campaigns, space-separated. A campaign id is a path segment (letters,
--                 digits, `.`, `_`, `-`: domain::ids), so it never holds a space.
--   reasons       each campaign's reason, space-separated, in the same order (snake_case words).
--   details       per campaign, in the same order, a JSON array
--                 `[channel, window_open, next_opening, cooldown_until, taken_by, outcomes]`: instants
--                 as RFC 3339 strings, outcomes as evaluation::outcomes stores them.
--
-- The campaigns and the reasons stay apart from the details because two readers want only them
-- and must not parse JSON for a million rows: retention (which campaigns a newer row decided) and
-- the console's chart (decisions per minute and reason). `decisions` keeps its columns and types.

DROP VIEW decisions;
DROP FUNCTION decisions_insert();

ALTER TABLE decision_runs ADD COLUMN details text;
UPDATE decision_runs r SET details = (
    SELECT json_agg(json_build_array(channel, window_open,
                                     to_char(next_opening AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                     to_char(cooldown_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                     taken_by, outcomes::json) ORDER BY ordinal)::text
    FROM unnest(r.channels, r.windows_open, r.next_openings, r.cooldowns_until, r.taken_by, r.outcomes)
        WITH ORDINALITY AS p(channel, window_open, next_opening, cooldown_until, taken_by, outcomes,
                             ordinal));
ALTER TABLE decision_runs
    ALTER COLUMN details SET NOT NULL,
    ALTER COLUMN campaign_ids TYPE text USING array_to_string(campaign_ids, ' '),
    ALTER COLUMN reasons TYPE text USING array_to_string(reasons, ' '),
    DROP COLUMN channels,
    DROP COLUMN windows_open,
    DROP COLUMN next_openings,
    DROP COLUMN cooldowns_until,
    DROP COLUMN taken_by,
    DROP COLUMN outcomes;

CREATE VIEW decisions AS
SELECT r.seq, d.ordinal, r.contact_id, d.campaign_id, r.evaluated_at, d.reason, r.tier,
       r.effective_score, r.rise, d.detail ->> 0 AS channel, (d.detail ->> 1)::boolean AS window_open,
       (d.detail ->> 2)::timestamptz AS next_opening, (d.detail ->> 3)::timestamptz AS cooldown_until,
       d.detail ->> 4 AS taken_by, d.detail -> 5 AS outcomes
FROM decision_runs r
CROSS JOIN LATERAL unnest(string_to_array(r.campaign_ids, ' '), string_to_array(r.reasons, ' '),
                          ARRAY(SELECT jsonb_array_elements(r.details::jsonb)))
    WITH ORDINALITY AS d(campaign_id, reason, detail, ordinal);

-- Inserting into the view (tests, hand-made fixes) stores a run of one campaign, as before.
CREATE FUNCTION decisions_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Either would split (or vanish) when the view reads the row back.
    IF NEW.campaign_id !~ '^\S+$' OR NEW.reason !~ '^\S+$' THEN
        RAISE EXCEPTION 'a decision''s campaign id and reason are words without spaces: "%" / "%"',
            NEW.campaign_id, NEW.reason;
    END IF;
    INSERT INTO decision_runs (contact_id, evaluated_at, tier, effective_score, rise, campaign_ids,
                               reasons, details)
    VALUES (NEW.contact_id, NEW.evaluated_at, NEW.tier, NEW.effective_score, NEW.rise,
            NEW.campaign_id, NEW.reason,
            json_build_array(json_build_array(
                NEW.channel, NEW.window_open,
                to_char(NEW.next_opening AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                to_char(NEW.cooldown_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                NEW.taken_by, NEW.outcomes))::text);
    RETURN NEW;
END $$;
CREATE TRIGGER decisions_insert INSTEAD OF INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_insert();
