-- Schedules (GreenCloud's draft `/v1/scheduled`): a task of a function on a cron in an IANA
-- timezone. Each tick is submitted once across replicas: a replica claims due schedules
-- (`SKIP LOCKED`, with a claim that runs out if it dies), submits under an idempotency key named
-- after (schedule, tick), and records the run under a unique (schedule, tick) key.
CREATE TABLE schedules (
    id                   uuid PRIMARY KEY,
    account_id           uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    function_id          uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    cron                 text NOT NULL,
    time_zone            text NOT NULL,
    description          text NOT NULL DEFAULT '',
    active               boolean NOT NULL DEFAULT true,
    -- The payload of every run: query string, body and its content type.
    payload_query        text NOT NULL DEFAULT '',
    payload_body         bytea NOT NULL DEFAULT '',
    payload_content_type text,
    -- The next tick (NULL when inactive or when the expression never matches again).
    next_run_at          timestamptz,
    claimed_until        timestamptz,
    last_run_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE active AND next_run_at IS NOT NULL;
CREATE INDEX schedules_account_idx ON schedules (account_id, created_at, id);

-- One row per tick (and per `try`): the task it started, or why none was.
CREATE TABLE schedule_runs (
    id          bigserial PRIMARY KEY,
    schedule_id uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    -- NULL for a `try`.
    tick        timestamptz,
    task_id     uuid,
    error_code  text,
    -- Ticks skipped because the dispatcher was down when they fell (see docs/endpoints.md).
    missed      integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedule_runs_once UNIQUE (schedule_id, tick)
);
CREATE INDEX schedule_runs_task_idx ON schedule_runs (task_id);
