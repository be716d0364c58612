-- Change data capture (issue 13).
-- A source's optional bearer token (Debezium Server's HTTP sink sends static headers but cannot
-- sign), sealed like the signing secret; NULL when the source takes signatures only.
ALTER TABLE sources ADD COLUMN bearer_token_sealed bytea;

-- Which endpoint a quarantined item came through: a change from `/cdc` is kept as Debezium sent it,
-- and a replay translates it again with the source's CDC mapping in force.
ALTER TABLE quarantine ADD COLUMN intake text NOT NULL DEFAULT 'events' CHECK (intake IN ('events', 'cdc'));
