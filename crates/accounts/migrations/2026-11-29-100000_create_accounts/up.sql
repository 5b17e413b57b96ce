-- Users, their server-side sessions, and failed logins (for throttling), shared by every
-- replica.
CREATE TABLE accounts_users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL
        CONSTRAINT accounts_users_username_form CHECK (username ~ '^[A-Za-z0-9@.+_-]{1,150}$'),
    email text
        CONSTRAINT accounts_users_email_form CHECK (email IS NULL OR (char_length(email) <= 254 AND email LIKE '%_@_%')),
    password_hash text NOT NULL,
    is_active boolean NOT NULL DEFAULT true,
    is_staff boolean NOT NULL DEFAULT false,
    is_superuser boolean NOT NULL DEFAULT false,
    last_login timestamptz,
    date_joined timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case.
CREATE UNIQUE INDEX accounts_users_username_key ON accounts_users (lower(username));

CREATE TABLE accounts_sessions (
    -- A digest of the key in the cookie: the table alone lets nobody in.
    key_digest text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES accounts_users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX accounts_sessions_user ON accounts_sessions (user_id);

CREATE TABLE accounts_login_failures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- "user:<lowercase name>" or "addr:<client address>".
    key text NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX accounts_login_failures_key_at ON accounts_login_failures (key, at);
