-- The change log (issue 11 §2): every activation of a source mapping or manifest version, every
-- thresholds version and every campaign change, with who made it (the token's role and fingerprint)
-- and when. An activated mapping or manifest opens a score stability watch until `watch_until`
-- (null: no watch). The watch job (`PESYNC_WATCH_CRON`) computes the watch's figures from
-- `score_observations` and keeps them in `figures` as of `figures_at`; figures computed at or after
-- `watch_until` are final. `id` orders the paginated list.
CREATE TABLE changes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text        NOT NULL CHECK (kind IN ('mapping', 'manifest', 'thresholds', 'campaign')),
    name             text        NOT NULL,
    action           text        NOT NULL CHECK (action IN ('activated', 'created', 'updated', 'deleted')),
    from_version     integer,
    to_version       integer,
    changed_by       text        NOT NULL,
    changed_by_token text,
    changed_at       timestamptz NOT NULL,
    watch_until      timestamptz,
    figures          jsonb,
    figures_at       timestamptz
);
-- The watches still to compute or still open.
CREATE INDEX changes_unsettled_watches ON changes (id)
    WHERE watch_until IS NOT NULL AND (figures_at IS NULL OR figures_at < watch_until);
