-- The partner's Company search finds names containing a text. LIKE '%text%' reads every name;
-- this trigram index (SQLite's FTS5) reads the names holding the text's three-letter pieces.
-- It stores no copy of the names (content is the companies table); the triggers keep it in step.
CREATE VIRTUAL TABLE company_names USING fts5 (
    name, content = 'companies', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO company_names (company_names) VALUES ('rebuild');

CREATE TRIGGER company_names_insert AFTER INSERT ON companies BEGIN
    INSERT INTO company_names (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER company_names_delete AFTER DELETE ON companies BEGIN
    INSERT INTO company_names (company_names, rowid, name) VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER company_names_update AFTER UPDATE OF name ON companies BEGIN
    INSERT INTO company_names (company_names, rowid, name) VALUES ('delete', old.id, old.name);
    INSERT INTO company_names (rowid, name) VALUES (new.id, new.name);
END;
