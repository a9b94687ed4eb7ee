-- A renewal writes a seat and a ledger event for each of up to 100,000 learners, and PostgreSQL
-- checks every foreign key of every row with a query of its own (issue 11).

-- A seat's company is its batch's company: one key on both checks the pair, where two keys
-- checked each half on its own and let a seat name another company than its batch's.
CREATE UNIQUE INDEX licence_batches_id_company ON licence_batches (id, company_id);
ALTER TABLE seats ADD CONSTRAINT seats_batch_company_fkey
    FOREIGN KEY (batch_id, company_id) REFERENCES licence_batches (id, company_id);
ALTER TABLE seats DROP CONSTRAINT seats_batch_id_fkey;
ALTER TABLE seats DROP CONSTRAINT seats_company_id_fkey;

-- The ledger holds no key to its batch or its learner, so its history outlives both; now none
-- to its company either (companies are never deleted). `seatledger check` verifies instead that
-- each event names its batch's company, which the key never did.
ALTER TABLE seat_events DROP CONSTRAINT seat_events_company_id_fkey;
