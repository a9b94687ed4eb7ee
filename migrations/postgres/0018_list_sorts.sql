-- Every list of the console sorts by its columns a page at a time (issue 12): each sort walks an
-- index from the page's cursor (sort value, id) within its tenant, never OFFSET.

-- Company section, by when the trial or the licences end.
CREATE INDEX companies_partner_ends ON companies (partner_id, (COALESCE(licensed_until, trial_ends_at)), id);

-- Requested and Assigned Orders, and My Orders, by number of licences.
CREATE INDEX orders_partner_state_quantity ON orders (partner_id, state, quantity, id);
CREATE INDEX orders_company_quantity ON orders (company_id, quantity, id);

-- Users and Expired Licenses by last name, Users by email.
CREATE INDEX users_company_last_name ON users (company_id, last_name, id);
CREATE INDEX users_company_email ON users (company_id, email, id);

-- Sub-partners of one partner by name.
CREATE INDEX partners_parent_name ON partners (parent_id, name, id);

-- Users in the order they were added.
CREATE INDEX users_company ON users (company_id, id);
