-- The partner's Company search finds names containing a text. LIKE '%text%' reads every name;
-- this trigram index reads the names holding the text's three-letter pieces. pg_trgm ships with
-- PostgreSQL and is a trusted extension: the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX companies_name_trigram ON companies USING gin (LOWER(name) gin_trgm_ops);
