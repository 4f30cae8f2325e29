-- Nodes, code builds (content-addressed artifacts) and tasks.

CREATE TABLE nodes (
    -- The UUID the worker generated (GreenCloud's node "hash").
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    description       text NOT NULL DEFAULT '',
    token_hash        bytea NOT NULL CONSTRAINT nodes_token_key UNIQUE,
    deleted_at        timestamptz,
    -- Last `hello` and live state; `session_id` is set while a worker is connected to some replica.
    resources         jsonb,
    latency_ms        integer,
    session_id        uuid,
    last_seen_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX nodes_account_idx ON nodes (account_id);

CREATE TABLE artifacts (
    sha256     text PRIMARY KEY,
    size_bytes bigint NOT NULL,
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE builds (
    id              uuid PRIMARY KEY,
    account_id      uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    function_id     uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    status          text NOT NULL
                    CONSTRAINT builds_status_check CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED')),
    arch            text NOT NULL DEFAULT 'amd64',
    artifact_sha256 text REFERENCES artifacts (sha256),
    entry_point     text,
    timeline        jsonb NOT NULL DEFAULT '[]',
    log             text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX builds_account_idx ON builds (account_id, id);
CREATE INDEX builds_function_idx ON builds (function_id, id);

-- The build new tasks run: the function's latest successful build.
ALTER TABLE functions ADD COLUMN current_build_id uuid REFERENCES builds (id);

CREATE TABLE tasks (
    id                    uuid PRIMARY KEY,
    account_id            uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    function_id           uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    build_id              uuid NOT NULL REFERENCES builds (id),
    -- Snapshot of what the function needed when the task was issued.
    lang                  text NOT NULL,
    timeout_s             integer NOT NULL,
    cpu_count             integer NOT NULL,
    mem_size_mb           integer NOT NULL,
    network_latency_ms    integer NOT NULL,
    privileged            boolean NOT NULL,
    status                text NOT NULL DEFAULT 'queued'
                          CONSTRAINT tasks_status_check CHECK (status IN
                              ('queued', 'assigned', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
    attempt               integer NOT NULL DEFAULT 1,
    node_id               uuid,
    lease_expires_at      timestamptz,
    progress              smallint NOT NULL DEFAULT 0,
    request_method        text NOT NULL,
    request_query         text NOT NULL DEFAULT '',
    request_headers       jsonb NOT NULL DEFAULT '[]',
    request_content_type  text,
    request_body          bytea NOT NULL DEFAULT '',
    response_status       integer,
    response_content_type text,
    response_body         bytea,
    error_kind            text,
    error_message         text,
    init_ms               integer,
    exec_ms               integer,
    warm                  boolean,
    issued_at             timestamptz NOT NULL DEFAULT now(),
    assigned_at           timestamptz,
    started_at            timestamptz,
    finished_at           timestamptz
);
-- The claim path reads only live tasks; finished rows never slow it down.
CREATE INDEX tasks_queued_idx ON tasks (issued_at) WHERE status = 'queued';
CREATE INDEX tasks_live_node_idx ON tasks (node_id) WHERE status IN ('assigned', 'running');
CREATE INDEX tasks_account_idx ON tasks (account_id, id);
CREATE INDEX tasks_function_idx ON tasks (function_id, issued_at);
