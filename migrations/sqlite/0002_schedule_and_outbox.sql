-- When the scheduler must next look at a company's trial or a batch's expiry (the 72-hour
-- reminder, then the expiry itself); NULL when nothing more is due. A pass reads only rows whose
-- instant has come, through these indexes.
ALTER TABLE companies ADD COLUMN trial_due_at BIGINT;
ALTER TABLE licence_batches ADD COLUMN due_at BIGINT;
UPDATE companies SET trial_due_at = trial_ends_at - 259200 WHERE licensed_until IS NULL;
UPDATE licence_batches SET due_at = expires_at - 259200;
CREATE INDEX companies_trial_due ON companies (trial_due_at);
CREATE INDEX licence_batches_due ON licence_batches (due_at);

-- Emails, written in the transaction of the change that caused them. The idempotency key makes
-- each email queued once per event; the Message-ID is derived from it, so a resend after a lost
-- acknowledgement is recognisably the same message.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT NOT NULL UNIQUE,
    message_id       TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL,
    company_id       BIGINT REFERENCES companies (id),
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'kept', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    leased_until     BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT
);
CREATE INDEX outbox_pending ON outbox (status, next_attempt_at);
