-- A delivery lease names its holder. `claim` sets a fresh token with the lease; recording an outcome,
-- deferring or releasing a contact requires that token and an unexpired lease, so a worker whose
-- lease ran out (and was perhaps taken over by another) can no longer mark the contact's events
-- delivered, retried or dead-lettered, nor release the new holder's lease.
ALTER TABLE delivery_queue ADD COLUMN lease_token uuid;
