-- Public endpoints (GreenCloud's `/gc/{id}`): a function published at an unguessable URL with
-- limits. Ids are random (UUIDv4), not time-ordered like other ids: the URL is all a caller needs.
CREATE TABLE endpoints (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    function_id uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    description text NOT NULL DEFAULT '',
    -- Calls per day (UTC, or the time limit's timezone when one is set); -1 = unlimited.
    daily_limit integer NOT NULL DEFAULT -1 CONSTRAINT endpoints_daily_limit_check CHECK (daily_limit >= -1),
    -- Allowed browser origins (`https://host[:port]`); empty = any.
    origins     text[] NOT NULL DEFAULT '{}',
    -- Allowed client addresses or CIDR blocks (IPv4 and IPv6); empty = any.
    ips         text[] NOT NULL DEFAULT '{}',
    -- One daily window `HH:MM`–`HH:MM` in an IANA timezone; all three or none.
    time_from   text,
    time_to     text,
    time_zone   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT endpoints_time_limit_check CHECK (
        (time_from IS NULL) = (time_to IS NULL) AND (time_from IS NULL) = (time_zone IS NULL))
);
CREATE INDEX endpoints_account_idx ON endpoints (account_id, created_at, id);
CREATE INDEX endpoints_function_idx ON endpoints (function_id);

CREATE TABLE endpoint_tags (
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    tag_id      uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (endpoint_id, tag_id)
);

-- Calls counted per day; the daily limit is enforced by one conditional upsert, so replicas
-- never both let the last call through.
CREATE TABLE endpoint_usage (
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    day         date NOT NULL,
    calls       integer NOT NULL,
    PRIMARY KEY (endpoint_id, day)
);

-- One row per accepted public call: the task it started and the hash of the result token the
-- caller got (`GET /gc/{token}/result`). The token is random and stored only as its digest.
CREATE TABLE endpoint_calls (
    token_hash  bytea PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    task_id     uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX endpoint_calls_endpoint_idx ON endpoint_calls (endpoint_id, created_at);
CREATE INDEX endpoint_calls_task_idx ON endpoint_calls (task_id);
