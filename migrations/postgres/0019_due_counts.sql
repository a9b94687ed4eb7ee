-- The Admin Dashboard counts what is due, never every company of the partner (issue 11): the
-- trials ending within 7 days are one range of this index for each partner of the subtree.
CREATE INDEX companies_partner_trial_ends ON companies (partner_id, trial_ends_at);
