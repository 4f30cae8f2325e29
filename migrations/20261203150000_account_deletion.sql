-- A deleted account stays as a tombstone (its tasks' rows reference it): personal data scrubbed,
-- email freed, disabled so every token and key of it is refused.
ALTER TABLE accounts ADD COLUMN deleted_at timestamptz;
