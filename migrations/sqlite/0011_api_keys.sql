-- API keys of the operator (partner_id and company_id NULL), a partner or a company. The key is
-- shown once; only its visible prefix and a hash of the whole key are kept.
CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    prefix        TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- Comma-separated: access:check, read, write.
    permissions   TEXT NOT NULL,
    partner_id    BIGINT REFERENCES partners (id),
    company_id    BIGINT REFERENCES companies (id),
    expires_at    BIGINT,
    last_used_at  BIGINT,
    created_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL,
    revoked_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at    BIGINT,
    CHECK (partner_id IS NULL OR company_id IS NULL)
);
CREATE INDEX api_keys_partner ON api_keys (partner_id, id);
CREATE INDEX api_keys_company ON api_keys (company_id, id);

-- The response to each POST sent with an Idempotency-Key, replayed when the same key and body
-- come again within a day. A row without a status is a request still in progress.
CREATE TABLE api_idempotency (
    api_key_id       BIGINT NOT NULL REFERENCES api_keys (id),
    idempotency_key  TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    status           INTEGER,
    body             TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, idempotency_key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);
