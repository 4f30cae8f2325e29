-- Triggers (GreenCloud's chaining): when a task of `function_id` ends with `status`, a task of
-- `next_id` is submitted, once per source task. The firing is recorded by a statement-level
-- trigger on `tasks` in the same transaction as the final status, so no code path that ends a
-- task (worker results, timeouts, lost nodes, deadlines) can forget it and no crash can lose it;
-- a loop on every replica then submits the pending firings (docs/endpoints.md).
CREATE TABLE triggers (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    function_id    uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    next_id        uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    -- The source's HTTP status that fires it; 0 = any end but a cancel (also failures without a response).
    status         integer NOT NULL CONSTRAINT triggers_status_check CHECK (status = 0 OR status BETWEEN 100 AND 599),
    include_result boolean NOT NULL,
    description    text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT triggers_not_self CHECK (function_id <> next_id)
);
CREATE INDEX triggers_function_idx ON triggers (function_id);
CREATE INDEX triggers_account_idx ON triggers (account_id, created_at, id);

CREATE TABLE trigger_tags (
    trigger_id uuid NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    tag_id     uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (trigger_id, tag_id)
);

CREATE TABLE trigger_firings (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger_id     uuid NOT NULL REFERENCES triggers (id) ON DELETE CASCADE,
    source_task_id uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    -- Links from the task a caller started: 1 for its own triggers, +1 per hop. Read from the
    -- source task's `x-canopy-chain-depth` request header when the firing is submitted.
    depth          integer,
    state          text NOT NULL DEFAULT 'pending'
                   CONSTRAINT trigger_firings_state_check CHECK (state IN ('pending', 'fired', 'refused')),
    next_task_id   uuid,
    error_code     text,
    -- A replica submitting it holds it until then; a crashed replica's claim runs out.
    claimed_until  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    fired_at       timestamptz,
    CONSTRAINT trigger_firings_once UNIQUE (trigger_id, source_task_id)
);
CREATE INDEX trigger_firings_pending_idx ON trigger_firings (created_at) WHERE state = 'pending';

CREATE FUNCTION canopy_record_firings() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM triggers) THEN
        RETURN NULL;
    END IF;
    INSERT INTO trigger_firings (trigger_id, source_task_id)
    SELECT tr.id, n.id
    FROM new_rows n
    JOIN old_rows o ON o.id = n.id
    JOIN triggers tr ON tr.function_id = n.function_id
    WHERE n.status IN ('succeeded', 'failed', 'timed_out', 'cancelled')
      AND o.status IN ('queued', 'assigned', 'running')
      AND n.issued_at >= tr.created_at
      AND ((tr.status = 0 AND n.status <> 'cancelled') OR tr.status = n.response_status)
    ON CONFLICT ON CONSTRAINT trigger_firings_once DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    IF added > 0 THEN
        PERFORM pg_notify('canopy_firings', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_record_firings AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_record_firings();
