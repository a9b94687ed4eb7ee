-- Ids that the seat ledger, Activity or a link name are never given to another row. Without
-- AUTOINCREMENT SQLite hands out MAX(id) + 1, so deleting the newest user let the next one take
-- its id and inherit its ledger and activity. Before this file runs, the runner rebuilds
-- partners, companies, users, orders, licence_batches, seats, seat_events and activity with
-- AUTOINCREMENT from their definitions as they stand (db::migrations, `sqlite_autoincrement`),
-- with foreign keys off and checked before commit.

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
