-- Accounts, credentials and the secrets the dispatcher replicas share.

CREATE TABLE accounts (
    id                   uuid PRIMARY KEY,
    email                text NOT NULL,
    name                 text NOT NULL,
    surname              text NOT NULL,
    password_hash        text NOT NULL,
    role                 text NOT NULL DEFAULT 'user'
                         CONSTRAINT accounts_role_check CHECK (role IN ('user', 'admin')),
    activated_at         timestamptz,
    twofa_secret         text,
    twofa_pending_secret text,
    -- Last TOTP time step accepted, so a code cannot be replayed inside its window.
    twofa_last_step      bigint,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE activation_codes (
    code_hash  bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    id         uuid PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Every token minted by rotation from one login shares a family; reuse revokes the family.
    family_id  uuid NOT NULL,
    token_hash bytea NOT NULL CONSTRAINT refresh_tokens_hash_key UNIQUE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account_idx ON refresh_tokens (account_id);

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text NOT NULL,
    -- First characters of the key, kept so a user can tell keys apart without the secret.
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL CONSTRAINT api_keys_hash_key UNIQUE,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id);

-- Failed logins, counted per email and per client address to rate-limit guessing across replicas.
CREATE TABLE login_failures (
    id          bigserial PRIMARY KEY,
    email       text NOT NULL,
    client_addr text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email, failed_at);
CREATE INDEX login_failures_addr_idx ON login_failures (client_addr, failed_at);

-- Secrets generated once and shared by every replica (e.g. the JWT signing key).
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
