-- The Allocated and Expiring tabs list one company's open seats in seat order. Without this
-- index they walked every open seat of the instance to find the company's; with it they read
-- that company's seats alone.
CREATE INDEX seats_company_open ON seats (company_id, id) WHERE ended_at IS NULL;

-- A company's active learners, counted for every row of the partner's Company list and read by
-- the Expired Licenses tab: the count reads this index alone, whatever else the table holds.
CREATE INDEX users_company_active_learners ON users (company_id, id)
    WHERE is_learner = 1 AND deactivated_at IS NULL;
