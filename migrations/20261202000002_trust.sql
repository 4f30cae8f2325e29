-- Who may run whose tasks (docs/security.md). A node runs its owner's tasks; its owner may offer
-- it as a volunteer node, which then also runs the tasks of functions that allow volunteers;
-- admins form pools of accounts whose nodes run each other's tasks.

ALTER TABLE nodes ADD COLUMN volunteer boolean NOT NULL DEFAULT false;

-- A function's opt-in to volunteer nodes, and the snapshot its tasks take of it.
ALTER TABLE functions ADD COLUMN volunteers boolean NOT NULL DEFAULT false;
ALTER TABLE tasks ADD COLUMN volunteers boolean NOT NULL DEFAULT false;

-- `privileged` functions need an admin's approval of their account.
ALTER TABLE accounts ADD COLUMN privileged_approved boolean NOT NULL DEFAULT false;

CREATE TABLE pools (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CONSTRAINT pools_name_key UNIQUE,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pool_members (
    pool_id    uuid NOT NULL REFERENCES pools (id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (pool_id, account_id)
);
CREATE INDEX pool_members_account_idx ON pool_members (account_id);

-- canopy_nodes "trust:<node>" when a node's volunteer flag changes, "trust:*" when any pool's
-- membership changes: replicas re-read the trust of the sessions they hold.
CREATE FUNCTION canopy_notify_node_trust() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('canopy_nodes', 'trust:' || NEW.id::text);
    RETURN NULL;
END $$;

CREATE TRIGGER nodes_notify_trust AFTER UPDATE OF volunteer ON nodes
    FOR EACH ROW WHEN (OLD.volunteer IS DISTINCT FROM NEW.volunteer)
    EXECUTE FUNCTION canopy_notify_node_trust();

CREATE FUNCTION canopy_notify_pools() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('canopy_nodes', 'trust:*');
    RETURN NULL;
END $$;

CREATE TRIGGER pool_members_notify AFTER INSERT OR UPDATE OR DELETE ON pool_members
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_notify_pools();
