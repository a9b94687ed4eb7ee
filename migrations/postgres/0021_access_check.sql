-- The access check reads a user's open seat and its batch, and when their last seat ended, from
-- this index alone (issue 9): with the batch in it, the seat's own row is not read.
DROP INDEX seats_user;
CREATE INDEX seats_user ON seats (user_id, ended_at, batch_id);
