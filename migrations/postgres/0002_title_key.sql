-- Title search with case folded by the bot (the same Unicode folding on every engine, where
-- lower() and ILIKE would follow the server's locale). Rows written before this migration get
-- `title_key` filled in by the bot at start-up.
ALTER TABLE tasks ADD COLUMN title_key TEXT;

DROP INDEX tasks_title_trigrams;
CREATE INDEX tasks_title_key_trigrams ON tasks USING gin (title_key gin_trgm_ops);

-- Finds the rows still waiting for their key (empty once the bot has filled them in).
CREATE INDEX tasks_without_title_key ON tasks (id) WHERE title_key IS NULL;
