-- The dialer-id index serves one statement, the pull feed's acknowledgement
-- (`dialer::feed::acknowledge`: `WHERE dialer_id = ANY($1) AND mode = 'pull'`). Push items are
-- never looked up by it, yet every one of them kept an entry: a random-ordered key (a hash of
-- campaign and contact) inserted for each contact an evaluation run queues. Only pull items have
-- an entry now (issue 12).
CREATE INDEX dialer_queue_pull_by_dialer_id ON dialer_queue (dialer_id) WHERE mode = 'pull';
DROP INDEX dialer_queue_by_dialer_id;
