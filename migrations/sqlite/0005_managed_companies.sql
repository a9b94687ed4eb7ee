-- A company is Managed while it holds an active Managed batch; kept on the company like
-- licensed_until so the access rules read it with the company's other facts.
ALTER TABLE companies ADD COLUMN managed_until BIGINT;
UPDATE companies SET managed_until =
  (SELECT MAX(b.expires_at) FROM licence_batches b WHERE b.company_id = companies.id AND b.kind = 'managed');
