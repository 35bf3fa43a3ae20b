-- `/task list` orders by due time by default (undated last): this index gives that order
-- within a guild, so a page reads its ten rows instead of sorting the guild's tasks.
CREATE INDEX tasks_list_due ON tasks (guild_id, (due_at IS NULL), due_at, number)
    WHERE deleted_at IS NULL;
