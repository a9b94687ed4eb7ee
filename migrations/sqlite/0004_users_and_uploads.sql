-- Three wrong passwords lock an account for ten minutes.
ALTER TABLE users ADD COLUMN failed_sign_ins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until BIGINT;

-- An uploaded CSV file, kept between its preview and its application, for one company.
CREATE TABLE csv_uploads (
    id          INTEGER PRIMARY KEY,
    company_id  BIGINT NOT NULL REFERENCES companies (id),
    purpose     TEXT NOT NULL CHECK (purpose IN ('renewal', 'users')),
    file_name   TEXT NOT NULL,
    content     TEXT NOT NULL,
    created_by  BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at  BIGINT NOT NULL,
    applied_at  BIGINT
);
CREATE INDEX csv_uploads_company ON csv_uploads (company_id, id);
