-- The partner's Activity page: one row per action on seats, orders or companies, with who did
-- it, for which company, and the partner the company belongs to (for the partner's scope).
CREATE TABLE activity (
    id                       INTEGER PRIMARY KEY,
    at                       BIGINT NOT NULL,
    partner_id               BIGINT NOT NULL REFERENCES partners (id),
    company_id               BIGINT REFERENCES companies (id),
    actor_user_id            BIGINT,
    on_behalf_of_company_id  BIGINT,
    action                   TEXT NOT NULL,
    detail                   TEXT NOT NULL
);
CREATE INDEX activity_partner ON activity (partner_id, id);
CREATE INDEX activity_company ON activity (company_id, id);
CREATE INDEX activity_actor ON activity (actor_user_id, id);

-- Single-use links to set a password (welcome emails, resets). Only the hash is stored.
CREATE TABLE password_tokens (
    token_hash  TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('welcome', 'reset')),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX password_tokens_user ON password_tokens (user_id, created_at);

-- The Company section reads companies in name order across a partner's whole subtree.
CREATE INDEX companies_name ON companies (name, id);
