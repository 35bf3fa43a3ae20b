-- `/task list` with no filter shows how many open tasks the guild has, on every page.
-- Counting them there read up to a thousand index entries per page; triggers keep the number
-- here instead, in the same transaction as the change that moves it.
CREATE TABLE guild_open_tasks (
    guild_id INTEGER PRIMARY KEY,
    open_tasks INTEGER NOT NULL
);

INSERT INTO guild_open_tasks (guild_id, open_tasks)
    SELECT guild_id, COUNT(*) FROM tasks
    WHERE deleted_at IS NULL AND status <> 'done'
    GROUP BY guild_id;

CREATE TRIGGER tasks_open_count_insert AFTER INSERT ON tasks
    WHEN NEW.deleted_at IS NULL AND NEW.status <> 'done'
BEGIN
    INSERT INTO guild_open_tasks (guild_id, open_tasks) VALUES (NEW.guild_id, 1)
        ON CONFLICT (guild_id) DO UPDATE SET open_tasks = open_tasks + 1;
END;

CREATE TRIGGER tasks_open_count_delete AFTER DELETE ON tasks
    WHEN OLD.deleted_at IS NULL AND OLD.status <> 'done'
BEGIN
    UPDATE guild_open_tasks SET open_tasks = open_tasks - 1 WHERE guild_id = OLD.guild_id;
END;

-- Done, reopened, deleted or restored: only a change between open and not open counts.
CREATE TRIGGER tasks_open_count_update AFTER UPDATE OF status, deleted_at ON tasks
    WHEN (OLD.deleted_at IS NULL AND OLD.status <> 'done')
        <> (NEW.deleted_at IS NULL AND NEW.status <> 'done')
BEGIN
    INSERT INTO guild_open_tasks (guild_id, open_tasks)
        VALUES (NEW.guild_id, CASE WHEN NEW.deleted_at IS NULL AND NEW.status <> 'done' THEN 1 ELSE -1 END)
        ON CONFLICT (guild_id) DO UPDATE SET open_tasks = open_tasks + excluded.open_tasks;
END;
