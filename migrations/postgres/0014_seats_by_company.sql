-- The Allocated and Expiring tabs list one company's open seats in seat order. Without this
-- index they walked every open seat of the instance to find the company's; with it they read
-- that company's seats alone.
CREATE INDEX seats_company_open ON seats (company_id, id) WHERE ended_at IS NULL;
