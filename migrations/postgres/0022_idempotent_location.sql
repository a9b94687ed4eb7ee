-- A replayed answer carries the Location of what the first request created (issue 9).
ALTER TABLE api_idempotency ADD COLUMN location TEXT;
