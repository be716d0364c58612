-- One decision row per contact and run (issue 12): the run's evaluation of every enabled campaign for
-- that contact, side by side in arrays (element i of each array is campaign_ids[i]'s). A run over a
-- million contacts and two campaigns wrote two million rows and index entries into `decisions`; it
-- now writes one million, with COPY. The score, the rise and the tier are the contact's, the same for
-- every campaign of the run, so they are stored once.
--
-- Readers keep asking for per-campaign decisions: `decisions` is now a view with the columns of the
-- old table, one row per contact, run and campaign (SPEC §11.16), and `ordinal` orders the campaigns
-- of one run as `seq` used to. Inserting into the view (tests, hand-made fixes) stores a run of one
-- campaign.

CREATE TABLE decision_runs (
    -- Orders runs at the same instant (a test clock standing still). No sequence cache: cached blocks
    -- per connection would number concurrent writers out of order.
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    contact_id      text        NOT NULL,
    evaluated_at    timestamptz NOT NULL,
    tier            text,
    effective_score double precision,
    rise            double precision,
    campaign_ids    text[]        NOT NULL,
    reasons         text[]        NOT NULL,
    channels        text[]        NOT NULL,
    windows_open    boolean[]     NOT NULL,
    next_openings   timestamptz[] NOT NULL,
    cooldowns_until timestamptz[] NOT NULL,
    taken_by        text[]        NOT NULL,
    -- Per campaign, the compact rule outcomes of evaluation::outcomes (JSON text: `true` for a passed
    -- rule, the sentence for a failed one). Text, not jsonb: parsed when read, not when written.
    outcomes        text[]        NOT NULL
);

INSERT INTO decision_runs (seq, contact_id, evaluated_at, tier, effective_score, rise, campaign_ids,
                           reasons, channels, windows_open, next_openings, cooldowns_until, taken_by,
                           outcomes)
OVERRIDING SYSTEM VALUE
SELECT max(seq), contact_id, evaluated_at,
       (array_agg(tier ORDER BY seq))[1], (array_agg(effective_score ORDER BY seq))[1],
       (array_agg(rise ORDER BY seq))[1],
       array_agg(campaign_id ORDER BY seq), array_agg(reason ORDER BY seq),
       array_agg(channel ORDER BY seq), array_agg(window_open ORDER BY seq),
       array_agg(next_opening ORDER BY seq), array_agg(cooldown_until ORDER BY seq),
       array_agg(taken_by ORDER BY seq), array_agg(outcomes::text ORDER BY seq)
FROM decisions GROUP BY contact_id, evaluated_at;
SELECT setval(pg_get_serial_sequence('decision_runs', 'seq'), max(seq)) FROM decision_runs
HAVING max(seq) IS NOT NULL;

DROP TABLE decisions;

-- Newest first per contact (the explanation, scanned backwards), and oldest first for retention.
CREATE INDEX decision_runs_by_contact ON decision_runs (contact_id, evaluated_at);
CREATE INDEX decision_runs_by_age ON decision_runs (evaluated_at, seq);

CREATE VIEW decisions AS
SELECT r.seq, d.ordinal, r.contact_id, d.campaign_id, r.evaluated_at, d.reason, r.tier,
       r.effective_score, r.rise, d.channel, d.window_open, d.next_opening, d.cooldown_until,
       d.taken_by, d.outcomes::jsonb AS outcomes
FROM decision_runs r
CROSS JOIN LATERAL unnest(r.campaign_ids, r.reasons, r.channels, r.windows_open, r.next_openings,
                          r.cooldowns_until, r.taken_by, r.outcomes)
    WITH ORDINALITY AS d(campaign_id, reason, channel, window_open, next_opening, cooldown_until,
                         taken_by, outcomes, ordinal);

CREATE FUNCTION decisions_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO decision_runs (contact_id, evaluated_at, tier, effective_score, rise, campaign_ids,
                               reasons, channels, windows_open, next_openings, cooldowns_until,
                               taken_by, outcomes)
    VALUES (NEW.contact_id, NEW.evaluated_at, NEW.tier, NEW.effective_score, NEW.rise,
            ARRAY[NEW.campaign_id], ARRAY[NEW.reason], ARRAY[NEW.channel], ARRAY[NEW.window_open],
            ARRAY[NEW.next_opening], ARRAY[NEW.cooldown_until], ARRAY[NEW.taken_by],
            ARRAY[NEW.outcomes::text]);
    RETURN NEW;
END $$;
CREATE TRIGGER decisions_insert INSTEAD OF INSERT ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_insert();
