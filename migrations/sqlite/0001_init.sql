-- Instants are Unix seconds (UTC) in BIGINT columns, so both databases share one SQL text.

CREATE TABLE partners (
    id          INTEGER PRIMARY KEY,
    parent_id   BIGINT REFERENCES partners (id),
    name        TEXT NOT NULL,
    trial_days  INTEGER NOT NULL DEFAULT 30 CHECK (trial_days BETWEEN 1 AND 90),
    nfr_seats   INTEGER NOT NULL DEFAULT 10 CHECK (nfr_seats >= 0),
    created_at  BIGINT NOT NULL
);

-- Every (ancestor, descendant) pair of the partner tree, the partner itself at depth 0: a
-- partner's scope is one indexed lookup however deep the tree.
CREATE TABLE partner_ancestors (
    ancestor_id    BIGINT NOT NULL REFERENCES partners (id),
    descendant_id  BIGINT NOT NULL REFERENCES partners (id),
    depth          INTEGER NOT NULL,
    PRIMARY KEY (ancestor_id, descendant_id)
);
CREATE INDEX partner_ancestors_descendant ON partner_ancestors (descendant_id);

CREATE TABLE companies (
    id                  INTEGER PRIMARY KEY,
    partner_id          BIGINT NOT NULL REFERENCES partners (id),
    name                TEXT NOT NULL,
    country             TEXT NOT NULL DEFAULT '',
    time_zone           TEXT NOT NULL DEFAULT 'UTC',
    account_manager_id  BIGINT REFERENCES users (id),
    trial_ends_at       BIGINT NOT NULL,
    licensed_until      BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX companies_partner_name ON companies (partner_id, name, id);
CREATE INDEX companies_trial_ends ON companies (trial_ends_at);
CREATE INDEX companies_licensed_until ON companies (licensed_until);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    first_name      TEXT NOT NULL DEFAULT '',
    last_name       TEXT NOT NULL DEFAULT '',
    department      TEXT,
    password_hash   TEXT,
    kind            TEXT NOT NULL CHECK (kind IN ('operator', 'partner', 'company')),
    partner_id      BIGINT REFERENCES partners (id),
    partner_admin   INTEGER NOT NULL DEFAULT 0,
    company_id      BIGINT REFERENCES companies (id),
    is_manager      INTEGER NOT NULL DEFAULT 0,
    is_learner      INTEGER NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    deactivated_at  BIGINT,
    CHECK ((kind = 'partner') = (partner_id IS NOT NULL)),
    CHECK ((kind = 'company') = (company_id IS NOT NULL))
);
CREATE INDEX users_company_name ON users (company_id, last_name, first_name, id);
CREATE INDEX users_partner ON users (partner_id, id);

CREATE TABLE orders (
    id             INTEGER PRIMARY KEY,
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
CREATE INDEX orders_partner_state ON orders (partner_id, state, requested_at, id);
CREATE INDEX orders_company ON orders (company_id, requested_at, id);

CREATE TABLE licence_batches (
    id           INTEGER PRIMARY KEY,
    company_id   BIGINT NOT NULL REFERENCES companies (id),
    order_id     BIGINT UNIQUE REFERENCES orders (id),
    kind         TEXT NOT NULL CHECK (kind IN ('premium', 'managed')),
    quantity     INTEGER NOT NULL CHECK (quantity > 0),
    allocated    INTEGER NOT NULL DEFAULT 0,
    assigned_at  BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- The seat invariant, enforced by the database itself under any concurrency.
    CHECK (allocated >= 0 AND allocated <= quantity)
);
CREATE INDEX licence_batches_company_expiry ON licence_batches (company_id, expires_at, id);
CREATE INDEX licence_batches_expiry ON licence_batches (expires_at);

CREATE TABLE seats (
    id            INTEGER PRIMARY KEY,
    batch_id      BIGINT NOT NULL REFERENCES licence_batches (id),
    company_id    BIGINT NOT NULL REFERENCES companies (id),
    user_id       BIGINT REFERENCES users (id) ON DELETE SET NULL,
    allocated_at  BIGINT NOT NULL,
    ended_at      BIGINT,
    end_reason    TEXT CHECK (end_reason IN ('released', 'batch_expired')),
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- One open seat per user.
CREATE UNIQUE INDEX seats_one_open_per_user ON seats (user_id) WHERE ended_at IS NULL;
CREATE INDEX seats_batch ON seats (batch_id);
CREATE INDEX seats_user ON seats (user_id, ended_at);

-- Append-only: rows are inserted, never updated or deleted. user_id has no foreign key so a
-- deleted user's history stays.
CREATE TABLE seat_events (
    id                       INTEGER PRIMARY KEY,
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
CREATE INDEX seat_events_batch ON seat_events (batch_id, id);
CREATE INDEX seat_events_user ON seat_events (user_id, id);
CREATE INDEX seat_events_company ON seat_events (company_id, id);

CREATE TABLE sessions (
    token_hash           TEXT PRIMARY KEY,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    managing_company_id  BIGINT REFERENCES companies (id)
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
