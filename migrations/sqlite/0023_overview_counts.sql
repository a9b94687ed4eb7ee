-- Licences → Overview's totals row and expiry chart, read in the time of the partner's own
-- rows of two small indexes rather than of its learners (issue 11).
--
-- A batch carries its company's partner and whether that company is the partner's internal one
-- (both fixed when the company is made), so the sums over a partner's valid batches come from
-- `licence_batches_partner` alone, without a read of each company. A trigger copies them into
-- every new batch, whoever writes it.
ALTER TABLE licence_batches ADD COLUMN partner_id BIGINT;
ALTER TABLE licence_batches ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
UPDATE licence_batches SET
    partner_id = (SELECT c.partner_id FROM companies c WHERE c.id = licence_batches.company_id),
    internal = (SELECT c.internal FROM companies c WHERE c.id = licence_batches.company_id);
CREATE INDEX licence_batches_partner
    ON licence_batches (partner_id, internal, expires_at, nfr, quantity, allocated, company_id);
CREATE TRIGGER licence_batches_company AFTER INSERT ON licence_batches BEGIN
    UPDATE licence_batches SET
        partner_id = (SELECT c.partner_id FROM companies c WHERE c.id = new.company_id),
        internal = (SELECT c.internal FROM companies c WHERE c.id = new.company_id)
    WHERE id = new.id;
END;

-- The active learners of each customer company, kept by the database itself in the statement
-- that changes them, so no writer can miss it; `seatledger check` recounts it.
CREATE TABLE company_learners (
    company_id  INTEGER PRIMARY KEY REFERENCES companies (id),
    partner_id  BIGINT NOT NULL,
    learners    BIGINT NOT NULL DEFAULT 0 CHECK (learners >= 0)
);
INSERT INTO company_learners (company_id, partner_id, learners)
    SELECT c.id, c.partner_id,
           (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.is_learner = 1
              AND u.deactivated_at IS NULL)
    FROM companies c WHERE c.internal = 0;
CREATE INDEX company_learners_partner ON company_learners (partner_id, learners);

CREATE TRIGGER company_learners_company AFTER INSERT ON companies WHEN new.internal = 0 BEGIN
    INSERT INTO company_learners (company_id, partner_id) VALUES (new.id, new.partner_id);
END;
CREATE TRIGGER company_learners_insert AFTER INSERT ON users
    WHEN new.is_learner = 1 AND new.deactivated_at IS NULL AND new.company_id IS NOT NULL BEGIN
    UPDATE company_learners SET learners = learners + 1 WHERE company_id = new.company_id;
END;
CREATE TRIGGER company_learners_update AFTER UPDATE OF company_id, is_learner, deactivated_at ON users
    WHEN (old.is_learner = 1 AND old.deactivated_at IS NULL) IS NOT (new.is_learner = 1 AND new.deactivated_at IS NULL)
      OR old.company_id IS NOT new.company_id BEGIN
    UPDATE company_learners SET learners = learners - 1
        WHERE company_id = old.company_id AND old.is_learner = 1 AND old.deactivated_at IS NULL;
    UPDATE company_learners SET learners = learners + 1
        WHERE company_id = new.company_id AND new.is_learner = 1 AND new.deactivated_at IS NULL;
END;
CREATE TRIGGER company_learners_delete AFTER DELETE ON users
    WHEN old.is_learner = 1 AND old.deactivated_at IS NULL AND old.company_id IS NOT NULL BEGIN
    UPDATE company_learners SET learners = learners - 1 WHERE company_id = old.company_id;
END;
