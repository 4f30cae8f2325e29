-- Past attempts of a task. The task row holds its current attempt; when an attempt is given up
-- (re-queued as attempt + 1: a worker fault, a lost node, an expired lease), the attempt it
-- replaces is kept here. Written by a trigger that fires only on that change, so tasks that
-- run once cost nothing.
CREATE TABLE task_attempts (
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    node_id     uuid,
    assigned_at timestamptz,
    started_at  timestamptz,
    ended_at    timestamptz NOT NULL DEFAULT now(),
    -- Why it was given up (the re-queue's message).
    reason      text,
    PRIMARY KEY (task_id, attempt)
);

CREATE FUNCTION canopy_record_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO task_attempts (task_id, attempt, node_id, assigned_at, started_at, reason)
    VALUES (OLD.id, OLD.attempt, OLD.node_id, OLD.assigned_at, OLD.started_at, NEW.error_message)
    ON CONFLICT (task_id, attempt) DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_record_attempt AFTER UPDATE OF attempt ON tasks
    FOR EACH ROW WHEN (NEW.attempt > OLD.attempt)
    EXECUTE FUNCTION canopy_record_attempt();
