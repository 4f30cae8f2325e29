-- Tags and functions (the GreenCloud function API).

CREATE TABLE tags (
    id         uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       text NOT NULL,
    color      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tags_account_name_key UNIQUE (account_id, name)
);

CREATE TABLE functions (
    id                 uuid PRIMARY KEY,
    account_id         uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name               text NOT NULL,
    description        text NOT NULL DEFAULT '',
    lang               text NOT NULL
                       CONSTRAINT functions_lang_check CHECK (lang IN ('GO', 'PY', 'JS', 'CS', 'RB', 'RS')),
    kind               text NOT NULL DEFAULT 'DOCKER'
                       CONSTRAINT functions_kind_check CHECK (kind IN ('DOCKER')),
    timeout_s          integer NOT NULL DEFAULT 10
                       CONSTRAINT functions_timeout_check CHECK (timeout_s BETWEEN 10 AND 120),
    cpu_count          integer NOT NULL DEFAULT 0
                       CONSTRAINT functions_cpu_check CHECK (cpu_count BETWEEN 0 AND 4),
    mem_size_mb        integer NOT NULL DEFAULT 0
                       CONSTRAINT functions_mem_check CHECK (mem_size_mb BETWEEN 0 AND 2048),
    network_latency_ms integer NOT NULL DEFAULT 0
                       CONSTRAINT functions_latency_check CHECK (network_latency_ms >= 0),
    privileged         boolean NOT NULL DEFAULT false,
    paused             boolean NOT NULL DEFAULT false,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX functions_account_live_idx ON functions (account_id, id) WHERE deleted_at IS NULL;

CREATE TABLE function_tags (
    function_id uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    tag_id      uuid NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (function_id, tag_id)
);
CREATE INDEX function_tags_tag_idx ON function_tags (tag_id);
