-- Carbon-aware placement and deferral (issue 15).
-- defer_until: `Prefer: defer=N` — the task must have finished by then; until a greener window
--   the dispatcher holds it with `not_before` (the claim path already honours that column).
-- carbon_intensity: gCO2e/kWh of the grid at the node that ran the attempt that finished, as
--   the node reported it then; gCO2e of the task = its Wh x this / 1000.
ALTER TABLE tasks
    ADD COLUMN defer_until timestamptz,
    ADD COLUMN carbon_intensity integer CHECK (carbon_intensity >= 0);
