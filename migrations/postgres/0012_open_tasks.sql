-- `/task list` with no filter shows how many open tasks the guild has, on every page.
-- Counting them there read up to a thousand index entries per page; triggers keep the number
-- here instead, in the same transaction as the change that moves it.
CREATE TABLE guild_open_tasks (
    guild_id BIGINT PRIMARY KEY,
    open_tasks BIGINT NOT NULL
);

INSERT INTO guild_open_tasks (guild_id, open_tasks)
    SELECT guild_id, COUNT(*) FROM tasks
    WHERE deleted_at IS NULL AND status <> 'done'
    GROUP BY guild_id;

-- +1 when a task becomes open (created, reopened, restored), -1 when it stops being open.
CREATE FUNCTION count_open_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change BIGINT := 0;
    guild BIGINT;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        guild := OLD.guild_id;
        IF OLD.deleted_at IS NULL AND OLD.status <> 'done' THEN
            change := change - 1;
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        guild := NEW.guild_id;
        IF NEW.deleted_at IS NULL AND NEW.status <> 'done' THEN
            change := change + 1;
        END IF;
    END IF;
    IF change <> 0 THEN
        INSERT INTO guild_open_tasks (guild_id, open_tasks) VALUES (guild, change)
            ON CONFLICT (guild_id)
            DO UPDATE SET open_tasks = guild_open_tasks.open_tasks + excluded.open_tasks;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER tasks_open_count_insert AFTER INSERT ON tasks
    FOR EACH ROW WHEN (NEW.deleted_at IS NULL AND NEW.status <> 'done')
    EXECUTE FUNCTION count_open_tasks();

CREATE TRIGGER tasks_open_count_delete AFTER DELETE ON tasks
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND OLD.status <> 'done')
    EXECUTE FUNCTION count_open_tasks();

-- Done, reopened, deleted or restored: only a change between open and not open counts.
CREATE TRIGGER tasks_open_count_update AFTER UPDATE OF status, deleted_at ON tasks
    FOR EACH ROW WHEN ((OLD.deleted_at IS NULL AND OLD.status <> 'done')
        IS DISTINCT FROM (NEW.deleted_at IS NULL AND NEW.status <> 'done'))
    EXECUTE FUNCTION count_open_tasks();
