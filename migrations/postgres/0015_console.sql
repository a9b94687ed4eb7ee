-- A console partners use daily (issue 12): a partner's pages show dates in its own time zone.
ALTER TABLE partners ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';

-- How an uploaded CSV file's bytes were read (utf-8, or windows-1252 for Excel's plain CSV), so
-- its preview can say so.
ALTER TABLE csv_uploads ADD COLUMN encoding TEXT NOT NULL DEFAULT 'utf-8';
