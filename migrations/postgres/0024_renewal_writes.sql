-- A renewal writes a seat and a ledger event for each of up to 100,000 learners, and every index
-- of the two tables with each row (issue 11). Only `seatledger check` read the ledger by batch or
-- by learner, each time walking a whole index in order; it sorts the table instead. The index by
-- company stays: the overview's seat history reads it.
DROP INDEX seat_events_batch;
DROP INDEX seat_events_user;

-- A new seat is open. The index of open seats (one per learner) now carries the batch, so the
-- access check still reads a learner's open seat and its batch from an index alone (issue 9),
-- and the index of when a learner's seats ended holds ended seats only: a new seat is written to
-- one index fewer. SQLite has no INCLUDE, and keeps both as they were.
DROP INDEX seats_one_open_per_user;
CREATE UNIQUE INDEX seats_one_open_per_user ON seats (user_id) INCLUDE (batch_id)
    WHERE ended_at IS NULL;
DROP INDEX seats_user;
CREATE INDEX seats_user ON seats (user_id, ended_at) WHERE ended_at IS NOT NULL;
