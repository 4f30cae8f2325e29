-- Compiling once per build (GO, CS, RS): a PENDING build with a source package is a compile job.
-- artifact_sha256 is what tasks run: the source package until the build is compiled, then the
-- compiled package (source + binary); source_sha256 keeps the source, which nodes holding an
-- older assignment may still fetch.
ALTER TABLE builds
    ADD COLUMN source_sha256      text REFERENCES artifacts (sha256),
    ADD COLUMN compile_node_id    uuid REFERENCES nodes (id) ON DELETE SET NULL,
    ADD COLUMN compile_offered_at timestamptz,
    ADD COLUMN compile_attempts   int NOT NULL DEFAULT 0;

-- The compile loop reads only the open jobs.
CREATE INDEX builds_compile_jobs_idx ON builds (compile_offered_at NULLS FIRST)
    WHERE status = 'PENDING' AND source_sha256 IS NOT NULL;
