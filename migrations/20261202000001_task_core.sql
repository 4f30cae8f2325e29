-- The task core: priorities and deadlines on submission, and notifications raised once per
-- statement: group commits write many tasks per statement, and one NOTIFY per row would send a
-- notification per task to every replica.

ALTER TABLE tasks ADD COLUMN priority smallint NOT NULL DEFAULT 0;
-- A queued task not assigned by then fails with `deadline_exceeded`.
ALTER TABLE tasks ADD COLUMN deadline timestamptz;

-- Claims take higher priorities first, then the oldest.
DROP INDEX tasks_queued_idx;
CREATE INDEX tasks_queued_idx ON tasks (priority DESC, issued_at) WHERE status = 'queued';
CREATE INDEX tasks_deadline_idx ON tasks (deadline) WHERE status = 'queued' AND deadline IS NOT NULL;

DROP TRIGGER tasks_notify_insert ON tasks;
DROP TRIGGER tasks_notify_update ON tasks;
DROP FUNCTION canopy_notify_task();

-- canopy_tasks: some task became queued (any replica's scheduler may take it); payload ''.
-- canopy_finished: entries "<task>:<node or ->:<attempt>:<status>" joined by ',', at most 64
-- per notification, for the tasks that ended in the statement (wakes `Prefer: wait` callers on
-- every replica; a cancel reaches the replica holding the worker's socket).
CREATE FUNCTION canopy_notify_inserted_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'queued') THEN
        PERFORM pg_notify('canopy_tasks', '');
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION canopy_notify_updated_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
               WHERE n.status = 'queued' AND (o.status <> 'queued' OR o.attempt <> n.attempt)) THEN
        PERFORM pg_notify('canopy_tasks', '');
    END IF;
    FOR chunk IN
        SELECT string_agg(entry, ',')
        FROM (SELECT n.id::text || ':' || coalesce(n.node_id::text, '-') || ':' || n.attempt || ':' || n.status AS entry,
                     (row_number() OVER ()) / 64 AS part
              FROM new_rows n JOIN old_rows o ON o.id = n.id
              WHERE n.status IN ('succeeded', 'failed', 'timed_out', 'cancelled') AND o.status <> n.status) ended
        GROUP BY part
    LOOP
        PERFORM pg_notify('canopy_finished', chunk);
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_notify_inserted_tasks();
CREATE TRIGGER tasks_notify_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_notify_updated_tasks();

-- The worker connection an attempt was handed to. A worker that reconnects adopts the attempts
-- it still holds; any other attempt of the node's older connections was lost with them.
ALTER TABLE tasks ADD COLUMN session_id uuid;
