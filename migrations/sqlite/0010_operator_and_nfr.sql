-- From demo to production (issue 12): the instance's settings and first-run set-up links, one
-- operator, and every partner's internal company with its NFR seats.

-- The instance's own settings, one row: the trial length new distributors start with.
CREATE TABLE instance_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    trial_days  INTEGER NOT NULL DEFAULT 30 CHECK (trial_days BETWEEN 1 AND 90)
);
INSERT INTO instance_settings (id) VALUES (1);

-- Single-use links that create the operator of a new instance. Only the hash is stored.
CREATE TABLE setup_tokens (
    token_hash  TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- One operator per instance.
CREATE UNIQUE INDEX users_one_operator ON users (kind) WHERE kind = 'operator';

-- A partner's internal company holds its staff and demos: it is not a customer.
ALTER TABLE companies ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX companies_one_internal ON companies (partner_id) WHERE internal = 1;
-- NFR seats: a batch on the internal company that never expires (expires_at is
-- domain::company::NEVER, 253402207200) and is never due for the scheduler.
ALTER TABLE licence_batches ADD COLUMN nfr INTEGER NOT NULL DEFAULT 0;

-- Existing partners get theirs, held since the partner was created.
INSERT INTO companies (partner_id, name, country, time_zone, trial_ends_at, licensed_until,
                       created_at, internal)
SELECT id, name, '', 'UTC', created_at, CASE WHEN nfr_seats > 0 THEN 253402207200 END,
       created_at, 1
FROM partners ORDER BY id;
INSERT INTO licence_batches (company_id, kind, quantity, allocated, assigned_at, expires_at,
                             due_at, nfr)
SELECT c.id, 'premium', p.nfr_seats, 0, p.created_at, 253402207200, NULL, 1
FROM companies c JOIN partners p ON p.id = c.partner_id
WHERE c.internal = 1 AND p.nfr_seats > 0 ORDER BY c.id;
INSERT INTO seat_events (at, kind, company_id, batch_id, quantity, expires_at)
SELECT assigned_at, 'batch_assigned', company_id, id, quantity, expires_at
FROM licence_batches WHERE nfr = 1 ORDER BY id;

-- The operator's list of partners reads them in name order.
CREATE INDEX partners_name ON partners (name, id);
