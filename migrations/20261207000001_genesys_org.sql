-- What `pesync genesys setup` found or created in the Genesys Cloud org (issue 10): the External
-- Source every external event names, and per event type of the manifest its schema and events
-- configuration. Delivery with PESYNC_GENESYS_EVENTS=external-events reads these; until setup has
-- run, events wait in their lanes.

-- One row at most: the org pesync is set up against.
CREATE TABLE genesys_org (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- The API base URL setup ran against: ids of another org (or the simulator) are not reused.
    base_url text NOT NULL,
    external_source_id text NOT NULL,
    external_source_name text NOT NULL,
    division_id text NOT NULL,
    setup_at timestamptz NOT NULL
);

CREATE TABLE genesys_event_types (
    event_type text PRIMARY KEY,
    schema_id text NOT NULL,
    schema_version integer NOT NULL CHECK (schema_version > 0),
    configuration_id text NOT NULL,
    updated_at timestamptz NOT NULL
);
