-- Webhook endpoints of a partner (partner_id) or of the operator (partner_id NULL). The signing
-- secret is stored sealed under the instance's secret key, never readable from the database
-- alone; after a rotation the previous one keeps signing until previous_until.
CREATE TABLE webhook_endpoints (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id       BIGINT REFERENCES partners (id),
    url              TEXT NOT NULL,
    event_types      TEXT NOT NULL,
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   BIGINT,
    enabled          INTEGER NOT NULL DEFAULT 1,
    disabled_at      BIGINT,
    disabled_reason  TEXT CHECK (disabled_reason IN ('owner', 'failing')),
    -- The first failed attempt since the last delivered one: three days of it disables.
    failing_since    BIGINT,
    created_by       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, id);

-- What happened, written in the transaction of the change, with the body every delivery of it
-- sends byte for byte. The key makes an event that may be processed twice (the scheduler's)
-- written once.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_key   TEXT NOT NULL UNIQUE,
    event_type  TEXT NOT NULL,
    company_id  BIGINT REFERENCES companies (id),
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- One event on its way to one endpoint: the webhook outbox, leased and retried like emails.
-- webhook_id is the Standard Webhooks message id, the same on every attempt.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       TEXT NOT NULL UNIQUE,
    event_id         BIGINT NOT NULL REFERENCES webhook_events (id),
    endpoint_id      BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    leased_until     BIGINT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);

-- The delivery log: every attempt, with the answer's status or why there was none.
CREATE TABLE webhook_attempts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id    BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at   BIGINT NOT NULL,
    delivered      INTEGER NOT NULL,
    response_code  INTEGER,
    error          TEXT
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
