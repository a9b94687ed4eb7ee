-- Licences → Overview's totals row and expiry chart, read in the time of the partner's own
-- rows of two small indexes rather than of its learners (issue 11).
--
-- Written while no instance still running an older seatledger can add a learner or a batch
-- between the counts below and the triggers that keep them.
LOCK TABLE companies, users, licence_batches IN SHARE ROW EXCLUSIVE MODE;

-- A batch carries its company's partner and whether that company is the partner's internal one
-- (both fixed when the company is made), so the sums over a partner's valid batches come from
-- `licence_batches_partner` alone, without a read of each company. A trigger copies them into
-- every new batch, whoever writes it.
ALTER TABLE licence_batches ADD COLUMN partner_id BIGINT;
ALTER TABLE licence_batches ADD COLUMN internal INTEGER NOT NULL DEFAULT 0;
UPDATE licence_batches b SET partner_id = c.partner_id, internal = c.internal
    FROM companies c WHERE c.id = b.company_id;
ALTER TABLE licence_batches ALTER COLUMN partner_id SET NOT NULL;
CREATE INDEX licence_batches_partner
    ON licence_batches (partner_id, internal, expires_at, nfr, quantity, allocated, company_id);
CREATE FUNCTION licence_batches_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT partner_id, internal INTO NEW.partner_id, NEW.internal
        FROM companies WHERE id = NEW.company_id;
    RETURN NEW;
END $$;
CREATE TRIGGER licence_batches_company BEFORE INSERT ON licence_batches
    FOR EACH ROW EXECUTE FUNCTION licence_batches_company();

-- The active learners of each customer company, kept by the database itself in the statement
-- that changes them, so no writer can miss it; `seatledger check` recounts it.
CREATE TABLE company_learners (
    company_id  BIGINT PRIMARY KEY REFERENCES companies (id),
    partner_id  BIGINT NOT NULL,
    learners    BIGINT NOT NULL DEFAULT 0 CHECK (learners >= 0)
);
INSERT INTO company_learners (company_id, partner_id, learners)
    SELECT c.id, c.partner_id,
           (SELECT COUNT(*) FROM users u WHERE u.company_id = c.id AND u.is_learner = 1
              AND u.deactivated_at IS NULL)
    FROM companies c WHERE c.internal = 0;
CREATE INDEX company_learners_partner ON company_learners (partner_id, learners);

CREATE FUNCTION company_learners_company() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO company_learners (company_id, partner_id)
        SELECT id, partner_id FROM made WHERE internal = 0;
    RETURN NULL;
END $$;
CREATE TRIGGER company_learners_company AFTER INSERT ON companies
    REFERENCING NEW TABLE AS made FOR EACH STATEMENT EXECUTE FUNCTION company_learners_company();

-- Statement triggers with the statement's rows: an import or seed of 100,000 learners updates
-- each company's count once. A statement that changes no one's standing updates (and locks)
-- nothing, so only adding, deactivating and deleting learners takes a count's row lock.
CREATE FUNCTION company_learners_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE company_learners cl SET learners = cl.learners + d.n
        FROM (SELECT company_id, COUNT(*) AS n FROM added
              WHERE is_learner = 1 AND deactivated_at IS NULL AND company_id IS NOT NULL
              GROUP BY company_id) d
        WHERE cl.company_id = d.company_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE company_learners cl SET learners = cl.learners - d.n
        FROM (SELECT company_id, COUNT(*) AS n FROM removed
              WHERE is_learner = 1 AND deactivated_at IS NULL AND company_id IS NOT NULL
              GROUP BY company_id) d
        WHERE cl.company_id = d.company_id;
    ELSE
        UPDATE company_learners cl SET learners = cl.learners + d.n
        FROM (SELECT company_id, SUM(n) AS n FROM (
                SELECT company_id, 1 AS n FROM added
                WHERE is_learner = 1 AND deactivated_at IS NULL AND company_id IS NOT NULL
                UNION ALL
                SELECT company_id, -1 AS n FROM removed
                WHERE is_learner = 1 AND deactivated_at IS NULL AND company_id IS NOT NULL) x
              GROUP BY company_id HAVING SUM(n) <> 0) d
        WHERE cl.company_id = d.company_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER company_learners_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION company_learners_users();
CREATE TRIGGER company_learners_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION company_learners_users();
CREATE TRIGGER company_learners_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION company_learners_users();
