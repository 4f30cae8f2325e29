-- GreenCloud's account flags (both on by default; an omitted flag keeps its value on update) and
-- mailed password-reset codes (stored hashed, single use, short-lived).
ALTER TABLE accounts ADD COLUMN bundle_auto_renewal boolean NOT NULL DEFAULT true;
ALTER TABLE accounts ADD COLUMN low_quota_notification boolean NOT NULL DEFAULT true;

CREATE TABLE password_resets (
    code_hash  bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);
CREATE INDEX password_resets_account_idx ON password_resets (account_id);
