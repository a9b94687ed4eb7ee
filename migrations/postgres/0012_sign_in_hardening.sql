-- Sign-in hardening (issue 10).

-- The instance's key that signs form (CSRF) tokens; every server on the database shares it.
CREATE TABLE instance_keys (
    purpose  TEXT PRIMARY KEY,
    secret   TEXT NOT NULL
);

-- A notice for the next page of this session (flash), instead of text in the query string.
ALTER TABLE sessions ADD COLUMN flash TEXT;

-- Wrong passwords per account and client address: a stranger elsewhere cannot lock the account.
CREATE TABLE sign_in_locks (
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    address       TEXT NOT NULL,
    failures      BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    PRIMARY KEY (user_id, address)
);

-- Fixed-window counters of rate limits (sign-in and reset per address and account, ...).
CREATE TABLE rate_limits (
    bucket        TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_start);

ALTER TABLE users DROP COLUMN failed_sign_ins;
ALTER TABLE users DROP COLUMN locked_until;
