-- A renewal writes a seat and a ledger event for each of up to 100,000 learners, and every index
-- of the two tables with each row (issue 11). Only `seatledger check` read the ledger by batch or
-- by learner, each time walking a whole index in order; it sorts the table instead. The index by
-- company stays: the overview's seat history reads it. (The seats' indexes by learner stay whole:
-- deleting a user sets its seats' learner to NULL, which PostgreSQL finds by `seats_user`.)
DROP INDEX seat_events_batch;
DROP INDEX seat_events_user;
