-- The Company list by status reads a rare status's companies from its own range of the partner's
-- companies: a trial's end still to come, or an end of trial and licences that has passed
-- (issue 11). Each index now also holds what the status is told by and the name the page is
-- sorted by, so counting and paging them reads the index alone.
DROP INDEX companies_partner_trial_ends;
CREATE INDEX companies_partner_trial_ends
    ON companies (partner_id, trial_ends_at, licensed_until, internal, name);
DROP INDEX companies_partner_ends;
CREATE INDEX companies_partner_ends
    ON companies (partner_id, (COALESCE(licensed_until, trial_ends_at)), id, trial_ends_at, internal, name);
