-- Ids that the seat ledger, Activity or a link name are never given to another row. Without
-- AUTOINCREMENT SQLite hands out MAX(id) + 1, so deleting the newest user let the next one take
-- its id and inherit its ledger and activity. Each table is rebuilt (the procedure of SQLite's
-- "ALTER TABLE" page; the runner turns foreign keys off for it and checks them before commit).
-- `SELECT *` copies: a column another migration added that is missing here fails loudly.

CREATE TABLE partners_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id   BIGINT REFERENCES partners (id),
    name        TEXT NOT NULL,
    trial_days  INTEGER NOT NULL DEFAULT 30 CHECK (trial_days BETWEEN 1 AND 90),
    nfr_seats   INTEGER NOT NULL DEFAULT 10 CHECK (nfr_seats >= 0),
    created_at  BIGINT NOT NULL
);
INSERT INTO partners_new SELECT * FROM partners;
DROP TABLE partners;
ALTER TABLE partners_new RENAME TO partners;
CREATE INDEX partners_name ON partners (name, id);

CREATE TABLE companies_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id          BIGINT NOT NULL REFERENCES partners (id),
    name                TEXT NOT NULL,
    country             TEXT NOT NULL DEFAULT '',
    time_zone           TEXT NOT NULL DEFAULT 'UTC',
    account_manager_id  BIGINT REFERENCES users (id),
    trial_ends_at       BIGINT NOT NULL,
    licensed_until      BIGINT,
    created_at          BIGINT NOT NULL,
    trial_due_at        BIGINT,
    managed_until       BIGINT,
    internal            INTEGER NOT NULL DEFAULT 0
);
INSERT INTO companies_new SELECT * FROM companies;
DROP TABLE companies;
ALTER TABLE companies_new RENAME TO companies;
CREATE INDEX companies_partner_name ON companies (partner_id, name, id);
CREATE INDEX companies_trial_ends ON companies (trial_ends_at);
CREATE INDEX companies_licensed_until ON companies (licensed_until);
CREATE INDEX companies_trial_due ON companies (trial_due_at);
CREATE INDEX companies_name ON companies (name, id);
CREATE UNIQUE INDEX companies_one_internal ON companies (partner_id) WHERE internal = 1;

CREATE TABLE users_new (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    email            TEXT NOT NULL UNIQUE,
    first_name       TEXT NOT NULL DEFAULT '',
    last_name        TEXT NOT NULL DEFAULT '',
    department       TEXT,
    password_hash    TEXT,
    kind             TEXT NOT NULL CHECK (kind IN ('operator', 'partner', 'company')),
    partner_id       BIGINT REFERENCES partners (id),
    partner_admin    INTEGER NOT NULL DEFAULT 0,
    company_id       BIGINT REFERENCES companies (id),
    is_manager       INTEGER NOT NULL DEFAULT 0,
    is_learner       INTEGER NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    deactivated_at   BIGINT,
    CHECK ((kind = 'partner') = (partner_id IS NOT NULL)),
    CHECK ((kind = 'company') = (company_id IS NOT NULL))
);
INSERT INTO users_new SELECT * FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_company_name ON users (company_id, last_name, first_name, id);
CREATE INDEX users_partner ON users (partner_id, id);
CREATE UNIQUE INDEX users_one_operator ON users (kind) WHERE kind = 'operator';

CREATE TABLE orders_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id     BIGINT NOT NULL REFERENCES companies (id),
    partner_id     BIGINT NOT NULL REFERENCES partners (id),
    kind           TEXT NOT NULL CHECK (kind IN ('premium', 'managed')),
    quantity       INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
    state          TEXT NOT NULL CHECK (state IN ('requested', 'assigned', 'rejected', 'cancelled')),
    requested_by   BIGINT REFERENCES users (id),
    requested_at   BIGINT NOT NULL,
    decided_by     BIGINT REFERENCES users (id),
    decided_at     BIGINT,
    reject_reason  TEXT,
    request_key    TEXT UNIQUE
);
INSERT INTO orders_new SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_partner_state ON orders (partner_id, state, requested_at, id);
CREATE INDEX orders_company ON orders (company_id, requested_at, id);

CREATE TABLE licence_batches_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id   BIGINT NOT NULL REFERENCES companies (id),
    order_id     BIGINT UNIQUE REFERENCES orders (id),
    kind         TEXT NOT NULL CHECK (kind IN ('premium', 'managed')),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    allocated    INTEGER NOT NULL DEFAULT 0,
    assigned_at  BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    due_at       BIGINT,
    nfr          INTEGER NOT NULL DEFAULT 0,
    -- The seat invariant, enforced by the database itself under any concurrency.
    CHECK (allocated >= 0 AND allocated <= quantity)
);
INSERT INTO licence_batches_new SELECT * FROM licence_batches;
DROP TABLE licence_batches;
ALTER TABLE licence_batches_new RENAME TO licence_batches;
CREATE INDEX licence_batches_company_expiry ON licence_batches (company_id, expires_at, id);
CREATE INDEX licence_batches_expiry ON licence_batches (expires_at);
CREATE INDEX licence_batches_due ON licence_batches (due_at);

CREATE TABLE seats_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id      BIGINT NOT NULL REFERENCES licence_batches (id),
    company_id    BIGINT NOT NULL REFERENCES companies (id),
    user_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    allocated_at  BIGINT NOT NULL,
    ended_at      BIGINT,
    end_reason    TEXT CHECK (end_reason IN ('released', 'batch_expired')),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
INSERT INTO seats_new SELECT * FROM seats;
DROP TABLE seats;
ALTER TABLE seats_new RENAME TO seats;
CREATE UNIQUE INDEX seats_one_open_per_user ON seats (user_id) WHERE ended_at IS NULL;
CREATE INDEX seats_batch ON seats (batch_id);
CREATE INDEX seats_user ON seats (user_id, ended_at);

-- Append-only: rows are inserted, never updated or deleted. user_id has no foreign key so a
-- deleted user's history stays.
CREATE TABLE seat_events_new (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    at                       BIGINT NOT NULL,
    kind                     TEXT NOT NULL CHECK (kind IN ('batch_assigned', 'seat_allocated', 'seat_released', 'batch_expired')),
    company_id               BIGINT NOT NULL REFERENCES companies (id),
    batch_id                 BIGINT NOT NULL,
    user_id                  BIGINT,
    quantity                 INTEGER,
    expires_at               BIGINT,
    actor_user_id            BIGINT,
    on_behalf_of_company_id  BIGINT
);
INSERT INTO seat_events_new SELECT * FROM seat_events;
DROP TABLE seat_events;
ALTER TABLE seat_events_new RENAME TO seat_events;
CREATE INDEX seat_events_batch ON seat_events (batch_id, id);
CREATE INDEX seat_events_user ON seat_events (user_id, id);
CREATE INDEX seat_events_company ON seat_events (company_id, id);

CREATE TABLE activity_new (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    at                       BIGINT NOT NULL,
    partner_id               BIGINT NOT NULL REFERENCES partners (id),
    company_id               BIGINT REFERENCES companies (id),
    actor_user_id            BIGINT,
    on_behalf_of_company_id  BIGINT,
    action                   TEXT NOT NULL,
    detail                   TEXT NOT NULL
);
INSERT INTO activity_new SELECT * FROM activity;
DROP TABLE activity;
ALTER TABLE activity_new RENAME TO activity;
CREATE INDEX activity_partner ON activity (partner_id, id);
CREATE INDEX activity_company ON activity (company_id, id);
CREATE INDEX activity_actor ON activity (actor_user_id, id);

-- Uploads keep the table parsed once at upload (imports::csv_table's stored form) instead of
-- the text, until they are applied; after Import Users, the report of rows not imported stays
-- for download. Nothing is kept past 24 hours (the scheduler deletes what is due by
-- created_at). Uploads waiting in the old form are dropped: they were at most a day's work.
DROP TABLE csv_uploads;
CREATE TABLE csv_uploads (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id  BIGINT NOT NULL REFERENCES companies (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('renewal', 'users')),
    file_name   TEXT NOT NULL,
    parsed      BLOB,
    report      BLOB,
    -- The bytes held (parsed and report), counted against the company's quota.
    size        BIGINT NOT NULL,
    created_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    applied_at  BIGINT
);
CREATE INDEX csv_uploads_company ON csv_uploads (company_id, id);
CREATE INDEX csv_uploads_created ON csv_uploads (created_at);
