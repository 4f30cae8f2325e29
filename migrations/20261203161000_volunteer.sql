-- Volunteer controls (issue 15): a node paused by its owner's conditions, the time each live
-- attempt spent frozen (its hard deadline moves by it), and the CPU time and energy of the
-- attempt that ended each task.
ALTER TABLE nodes
    ADD COLUMN owner_paused_at timestamptz,
    ADD COLUMN owner_paused_reason text;

ALTER TABLE tasks
    ADD COLUMN owner_paused_at timestamptz,
    ADD COLUMN owner_paused_s float8 NOT NULL DEFAULT 0,
    ADD COLUMN cpu_seconds float8,
    ADD COLUMN energy_wh float8;
