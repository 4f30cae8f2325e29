-- Retries with backoff and idempotent task creation.

-- A queued task is not handed out before this time (backoff after a failure that was not the
-- function's fault).
ALTER TABLE tasks ADD COLUMN not_before timestamptz;
-- Leases are swept by expiry; the sweep reads only live tasks.
CREATE INDEX tasks_lease_idx ON tasks (lease_expires_at) WHERE status IN ('assigned', 'running');

CREATE TABLE idempotency_keys (
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    key          text NOT NULL,
    -- sha256 of what makes two requests "the same": function, query, content type and body.
    request_hash bytea NOT NULL,
    task_id      uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (account_id, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Replicas learn about changes through LISTEN/NOTIFY, raised here so no code path can forget it.
-- canopy_tasks: a task became queued (any replica's scheduler may take it).
-- canopy_finished: "<task>:<node or ->:<attempt>:<status>" when a task ended (wakes `Prefer: wait`
-- callers everywhere; a cancel reaches the replica holding the worker's socket).
CREATE FUNCTION canopy_notify_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'queued' THEN
        PERFORM pg_notify('canopy_tasks', '');
    ELSIF NEW.status IN ('succeeded', 'failed', 'timed_out', 'cancelled') THEN
        PERFORM pg_notify('canopy_finished',
            NEW.id::text || ':' || coalesce(NEW.node_id::text, '-') || ':' || NEW.attempt || ':' || NEW.status);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION canopy_notify_task();
CREATE TRIGGER tasks_notify_update AFTER UPDATE OF status ON tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.attempt IS DISTINCT FROM NEW.attempt)
    EXECUTE FUNCTION canopy_notify_task();

-- canopy_nodes: "revoke:<node>" when a node is deleted (the replica holding its socket closes it).
CREATE FUNCTION canopy_notify_node() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('canopy_nodes', 'revoke:' || NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER nodes_notify_revoke AFTER UPDATE OF deleted_at ON nodes
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION canopy_notify_node();
