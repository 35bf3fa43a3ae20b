-- A trigram index over task titles, so autocomplete finds "%text%" without scanning every task.
-- SQLite-specific (FTS5); it stays behind Db::search_tasks, which is the only reader.
CREATE VIRTUAL TABLE tasks_title_search USING fts5 (
    title,
    content = 'tasks',
    content_rowid = 'id',
    tokenize = 'trigram'
);

INSERT INTO tasks_title_search (rowid, title) SELECT id, title FROM tasks;

CREATE TRIGGER tasks_title_search_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tasks_title_search (rowid, title) VALUES (new.id, new.title);
END;

CREATE TRIGGER tasks_title_search_delete AFTER DELETE ON tasks BEGIN
    INSERT INTO tasks_title_search (tasks_title_search, rowid, title) VALUES ('delete', old.id, old.title);
END;

CREATE TRIGGER tasks_title_search_update AFTER UPDATE OF title ON tasks BEGIN
    INSERT INTO tasks_title_search (tasks_title_search, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO tasks_title_search (rowid, title) VALUES (new.id, new.title);
END;
