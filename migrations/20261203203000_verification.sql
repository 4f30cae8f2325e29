-- k-of-n result verification (BOINC's quorum, docs/security.md): a function may ask that each of
-- its tasks run on nodes of `quorum` different owners, its result accepted only when that many
-- agree, trying at most `quorum_runs` runs. Each run's answer is a vote; agreeing and disagreeing
-- with the accepted answer moves the node's trust score.

ALTER TABLE functions
    ADD COLUMN quorum smallint NOT NULL DEFAULT 0
        CONSTRAINT functions_quorum_check CHECK (quorum = 0 OR quorum BETWEEN 2 AND 5),
    ADD COLUMN quorum_runs smallint NOT NULL DEFAULT 0
        CONSTRAINT functions_quorum_runs_check CHECK (quorum_runs = 0 OR quorum_runs BETWEEN quorum AND 10);

-- The snapshot a task takes, and the owners whose nodes already voted (never asked again).
ALTER TABLE tasks
    ADD COLUMN quorum smallint NOT NULL DEFAULT 0,
    ADD COLUMN quorum_runs smallint NOT NULL DEFAULT 0,
    ADD COLUMN voter_owners uuid[] NOT NULL DEFAULT '{}';

CREATE TABLE task_votes (
    task_id       uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    node_id       uuid NOT NULL,
    owner_id      uuid NOT NULL,
    -- sha256 of the outcome (kind, status, content type, body, error kind): equal digests agree.
    digest        bytea NOT NULL,
    status        text NOT NULL,
    response_status integer,
    response_content_type text,
    response_body bytea,
    error_kind    text,
    error_message text,
    -- Set when the task is decided: whether this vote agreed with the accepted answer.
    agreed        boolean,
    voted_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, attempt)
);

ALTER TABLE nodes
    ADD COLUMN trust_score integer NOT NULL DEFAULT 0,
    ADD COLUMN votes_agreed integer NOT NULL DEFAULT 0,
    ADD COLUMN votes_disagreed integer NOT NULL DEFAULT 0;
