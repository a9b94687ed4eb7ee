-- The API's order list (issue 9): every order a partner sells, newest first, whatever its state.
-- `orders_partner_state` serves the list filtered by state; this one the list without.
CREATE INDEX orders_partner_requested ON orders (partner_id, requested_at, id);
