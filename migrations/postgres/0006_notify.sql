-- Where a member's deadline reminders go in a guild: 'channel' (the default, also when no row
-- exists), 'dm' or 'both'.
CREATE TABLE notify_prefs (
    guild_id  BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    reminders TEXT NOT NULL DEFAULT 'channel',
    PRIMARY KEY (guild_id, user_id)
);

-- A reminder or alert sent by direct message names its one task (its buttons act on it, read
-- back from here when pressed in the DM), and, when the channel does not get it anyway, the
-- channel it goes to instead if the DM is refused.
ALTER TABLE outbox ADD COLUMN dm_task_id BIGINT;
ALTER TABLE outbox ADD COLUMN fallback_channel_id BIGINT;
