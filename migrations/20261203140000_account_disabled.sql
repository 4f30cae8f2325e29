-- Admins can disable an account: it cannot sign in, refresh or use its API keys until enabled again.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;
