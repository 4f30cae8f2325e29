-- A node may download a code package while it holds a task using it, and, for a short while, after
-- it was asked to prewarm that function version (docs/security.md, rule on code access).
CREATE TABLE artifact_grants (
    node_id         uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    artifact_sha256 text NOT NULL,
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (node_id, artifact_sha256)
);
