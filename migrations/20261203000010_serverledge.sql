-- The Serverledge facade (docs/serverledge.md): a function created through `/create` is an
-- ordinary Canopy function plus its Serverledge name and settings. Names are unique per account
-- (Serverledge's are global: one tenant must not learn or block another's names).
CREATE TABLE serverledge_functions (
    function_id uuid PRIMARY KEY REFERENCES functions (id) ON DELETE CASCADE,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL,
    runtime     text NOT NULL,
    handler     text NOT NULL,
    memory_mb   integer NOT NULL,
    cpu_demand  double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT serverledge_functions_name_key UNIQUE (account_id, name)
);

-- One row per `/invoke`: what the caller asked for beyond the task itself. `/poll` answers only
-- for these tasks.
CREATE TABLE serverledge_requests (
    task_id           uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    qos_class         integer NOT NULL,
    qos_max_resp_t    double precision,
    can_do_offloading boolean NOT NULL,
    async             boolean NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
