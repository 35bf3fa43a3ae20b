-- Coordinator duties (spec §4): what is due is read from indexed columns; a duty is claimed
-- into the outbox (one row per message) before anything is sent.

ALTER TABLE tasks ADD COLUMN done_at BIGINT;
-- When the due time was last set: reminder offsets already past at that moment are skipped.
ALTER TABLE tasks ADD COLUMN due_set_at BIGINT;
-- Every duty at or before this instant has been claimed or skipped.
ALTER TABLE tasks ADD COLUMN duty_cursor BIGINT;
-- Snooze 1h: no reminder before this instant.
ALTER TABLE tasks ADD COLUMN snoozed_until BIGINT;
-- The task's next duty instant, kept current on every change; NULL when it owes nothing.
ALTER TABLE tasks ADD COLUMN next_duty_at BIGINT;
CREATE INDEX tasks_next_duty ON tasks (next_duty_at) WHERE next_duty_at IS NOT NULL;

CREATE TABLE outbox (
    id                INTEGER PRIMARY KEY,
    guild_id          BIGINT NOT NULL,
    channel_id        BIGINT NOT NULL,
    -- 'post' a new message, or 'edit' message target_message_id (disabling buttons).
    kind              TEXT NOT NULL,
    target_message_id BIGINT,
    -- The message as JSON, rendered once when claimed, so a resend is byte-for-byte the same.
    body              TEXT NOT NULL,
    -- The earliest duty instant in the message: lateness is measured from it.
    due_at            BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    -- pending, sent or failed
    state             TEXT NOT NULL DEFAULT 'pending',
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    message_id        BIGINT,
    sent_at           BIGINT,
    error             TEXT
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE state = 'pending';

CREATE TABLE duty_claims (
    id           INTEGER PRIMARY KEY,
    task_id      BIGINT NOT NULL REFERENCES tasks (id),
    -- reminder, overdue or escalation
    kind         TEXT NOT NULL,
    -- The due time the duty was computed from, and the reminder offset (0 for alerts).
    due_at       BIGINT NOT NULL,
    offset_secs  BIGINT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    -- Set in the same transaction, once the message holding it is created.
    outbox_id    BIGINT REFERENCES outbox (id),
    UNIQUE (task_id, kind, due_at, offset_secs)
);
CREATE INDEX duty_claims_by_outbox ON duty_claims (outbox_id);
CREATE INDEX duty_claims_by_task ON duty_claims (task_id);

CREATE TABLE standups (
    guild_id        BIGINT PRIMARY KEY,
    channel_id      BIGINT NOT NULL,
    -- 5-field crontab, read in the guild's time zone.
    schedule        TEXT NOT NULL,
    -- NULL when summaries are off.
    next_run_at     BIGINT,
    -- "Since the last summary" starts here.
    last_summary_at BIGINT
);
CREATE INDEX standups_next ON standups (next_run_at) WHERE next_run_at IS NOT NULL;

CREATE TABLE standup_runs (
    guild_id     BIGINT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    PRIMARY KEY (guild_id, scheduled_at)
);

CREATE TABLE checkins (
    id            INTEGER PRIMARY KEY,
    guild_id      BIGINT NOT NULL,
    user_id       BIGINT NOT NULL,
    yesterday     TEXT NOT NULL,
    today         TEXT NOT NULL,
    blockers      TEXT,
    at            BIGINT NOT NULL,
    -- Set when a summary showed it; a check-in is shown once.
    summarized_at BIGINT
);
-- One pending check-in per member: a second one replaces the first.
CREATE UNIQUE INDEX checkins_pending ON checkins (guild_id, user_id) WHERE summarized_at IS NULL;

-- Channels the bot could not post to (403/404), shown in /config show.
CREATE TABLE channel_failures (
    guild_id   BIGINT NOT NULL,
    channel_id BIGINT NOT NULL,
    status     BIGINT NOT NULL,
    error      TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (guild_id, channel_id)
);
