-- Title search that starts from the guild, with case folded by the bot.
--
-- `title_key` is the title folded to lower case by the bot itself (the same Unicode folding on
-- every engine); rows written before this migration get it filled in by the bot at start-up,
-- since SQLite's lower() folds ASCII only.
--
-- The trigram index's rowid packs the guild and the task number (guild's search sequence
-- times 2^40, plus the number), so a search reads only its own guild's range of the index,
-- newest number first, and stops as soon as it has enough hits.
ALTER TABLE tasks ADD COLUMN title_key TEXT;

CREATE TABLE search_guilds (
    seq      INTEGER PRIMARY KEY,
    guild_id BIGINT NOT NULL UNIQUE
);

INSERT INTO search_guilds (guild_id) SELECT DISTINCT guild_id FROM tasks ORDER BY guild_id;

DROP TRIGGER tasks_title_search_insert;
DROP TRIGGER tasks_title_search_delete;
DROP TRIGGER tasks_title_search_update;
DROP TABLE tasks_title_search;

CREATE VIRTUAL TABLE task_title_grams USING fts5 (
    title_key,
    content = '',
    contentless_delete = 1,
    tokenize = 'trigram case_sensitive 1'
);

CREATE TRIGGER task_title_grams_insert AFTER INSERT ON tasks BEGIN
    INSERT OR IGNORE INTO search_guilds (guild_id) VALUES (new.guild_id);
    INSERT INTO task_title_grams (rowid, title_key) VALUES (
        (SELECT seq FROM search_guilds WHERE guild_id = new.guild_id) * 1099511627776 + new.number,
        new.title_key);
END;

CREATE TRIGGER task_title_grams_update AFTER UPDATE OF title_key ON tasks
WHEN old.title_key IS NOT new.title_key BEGIN
    DELETE FROM task_title_grams WHERE rowid =
        (SELECT seq FROM search_guilds WHERE guild_id = old.guild_id) * 1099511627776 + old.number;
    INSERT INTO task_title_grams (rowid, title_key) VALUES (
        (SELECT seq FROM search_guilds WHERE guild_id = new.guild_id) * 1099511627776 + new.number,
        new.title_key);
END;

CREATE TRIGGER task_title_grams_delete AFTER DELETE ON tasks BEGIN
    DELETE FROM task_title_grams WHERE rowid =
        (SELECT seq FROM search_guilds WHERE guild_id = old.guild_id) * 1099511627776 + old.number;
END;

-- Finds the rows still waiting for their key (empty once the bot has filled them in).
CREATE INDEX tasks_without_title_key ON tasks (id) WHERE title_key IS NULL;
