-- Dispatcher replicas beat every second, so the others can tell when one died and take over the
-- tasks of the workers that were connected to it (and did not come back elsewhere).
CREATE TABLE replicas (
    id         uuid PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    beat_at    timestamptz NOT NULL DEFAULT now()
);

-- The replica holding a node's socket while `session_id` is set.
ALTER TABLE nodes ADD COLUMN replica_id uuid;
