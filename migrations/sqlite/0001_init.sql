-- Times are integer Unix seconds (UTC); Discord ids are 64-bit integers.
-- Kept to portable SQL so a PostgreSQL backend can follow.

CREATE TABLE guild_settings (
    guild_id          BIGINT PRIMARY KEY,
    manager_role_id   BIGINT,
    timezone          TEXT NOT NULL DEFAULT 'UTC',
    alerts_channel_id BIGINT,
    -- Seconds before the due time, comma-separated, longest first.
    reminder_offsets  TEXT NOT NULL DEFAULT '86400,3600',
    -- The next task number; bumped in the transaction that creates a task, never reused.
    next_task_number  BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE user_settings (
    user_id  BIGINT PRIMARY KEY,
    timezone TEXT NOT NULL
);

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    guild_id    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    -- Lower-cased name: names are unique in a guild ignoring case.
    name_key    TEXT NOT NULL,
    channel_id  BIGINT,
    description TEXT,
    created_by  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT,
    UNIQUE (guild_id, name_key)
);

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    guild_id       BIGINT NOT NULL,
    number         BIGINT NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT,
    status         TEXT NOT NULL,
    blocked_reason TEXT,
    priority       TEXT NOT NULL,
    project_id     BIGINT REFERENCES projects (id),
    assignee_id    BIGINT,
    creator_id     BIGINT NOT NULL,
    channel_id     BIGINT NOT NULL,
    due_at         BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    -- A deleted task leaves every view but stays, so its history can be exported.
    deleted_at     BIGINT,
    UNIQUE (guild_id, number)
);

CREATE INDEX tasks_by_assignee ON tasks (guild_id, assignee_id, status);
CREATE INDEX tasks_by_project ON tasks (project_id);

CREATE TABLE task_history (
    id       INTEGER PRIMARY KEY,
    task_id  BIGINT NOT NULL REFERENCES tasks (id),
    actor_id BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    action   TEXT NOT NULL,
    detail   TEXT NOT NULL
);

CREATE INDEX task_history_by_task ON task_history (task_id, id);
