-- Access tokens name the login (refresh-token family) or API key they came from (`sid`). When
-- either is revoked (password change, refresh-token reuse, key revoked or rotated), every
-- replica refuses its access tokens at once instead of when they expire (docs/security.md).

CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX api_keys_revoked_idx ON api_keys (revoked_at) WHERE revoked_at IS NOT NULL;

-- canopy_revoked '': something was revoked; replicas re-read the recent revocations.
CREATE FUNCTION canopy_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('canopy_revoked', '');
    RETURN NULL;
END $$;

CREATE TRIGGER refresh_tokens_notify_revoked AFTER UPDATE OF revoked_at ON refresh_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_notify_revoked();
CREATE TRIGGER api_keys_notify_revoked AFTER UPDATE OF revoked_at ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION canopy_notify_revoked();
