-- A console partners use daily (issue 12): a partner's pages show dates in its own time zone.
ALTER TABLE partners ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
