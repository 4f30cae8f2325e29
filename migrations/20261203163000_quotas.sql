-- Quotas in place of GreenCloud's paid bundles: limits an admin sets per account, and the daily
-- usage ledger they are checked against.

-- No row: the dispatcher's default quota applies. A row: exactly its limits (NULL = unlimited).
CREATE TABLE account_quotas (
    account_id       uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    tasks_per_day    integer CONSTRAINT account_quotas_tasks_per_day_check CHECK (tasks_per_day >= 0),
    concurrent_tasks integer CONSTRAINT account_quotas_concurrent_tasks_check CHECK (concurrent_tasks >= 0),
    storage_mb       integer CONSTRAINT account_quotas_storage_mb_check CHECK (storage_mb >= 0),
    updated_by       uuid,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Tasks submitted per account and UTC day. Each backend writes its own shard, so group commits
-- running at once on different connections do not queue behind one row lock; readers sum.
CREATE TABLE usage_ledger (
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    day        date NOT NULL,
    shard      smallint NOT NULL,
    tasks      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, day, shard)
);

-- One upsert per statement (not per row), in account order so two statements that share a shard
-- lock its rows in the same order and cannot deadlock.
CREATE FUNCTION canopy_count_submitted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_ledger AS ledger (account_id, day, shard, tasks)
    SELECT account_id, (now() AT TIME ZONE 'UTC')::date, pg_backend_pid() % 8, count(*)
    FROM submitted GROUP BY account_id ORDER BY account_id
    ON CONFLICT (account_id, day, shard) DO UPDATE SET tasks = ledger.tasks + EXCLUDED.tasks;
    RETURN NULL;
END $$;

CREATE TRIGGER tasks_count_submitted AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS submitted
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_count_submitted();

-- What the concurrent-tasks limit counts: an account's live tasks, found without its history.
CREATE INDEX tasks_live_account_idx ON tasks (account_id) WHERE status IN ('queued', 'assigned', 'running');
