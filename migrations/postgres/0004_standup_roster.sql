-- The standup roster, prompts by direct message, nudges and away periods.

-- Who is expected at a guild's standup. gone_at is set when Discord says the member left
-- (50278, 10013); a gone member is neither asked nor counted until they act again.
CREATE TABLE standup_roster (
    guild_id   BIGINT NOT NULL,
    user_id    BIGINT NOT NULL,
    joined_at  BIGINT NOT NULL,
    gone_at    BIGINT,
    PRIMARY KEY (guild_id, user_id)
);

-- The lead before the summary at which the roster is asked (0 = no prompts), and the next
-- prompt or nudge instant of the upcoming summary (NULL when none is owed).
ALTER TABLE standups ADD COLUMN prompt_secs BIGINT NOT NULL DEFAULT 3600;
ALTER TABLE standups ADD COLUMN next_prompt_at BIGINT;
CREATE INDEX standups_next_prompt ON standups (next_prompt_at) WHERE next_prompt_at IS NOT NULL;

-- One row per prompt or nudge of one summary, claimed once. fallback_at: when the channel
-- message for those who could not be reached by DM is due (60 s after the stage, or as soon
-- as every DM of the stage has an outcome); NULL once it was handled.
CREATE TABLE standup_stages (
    guild_id    BIGINT NOT NULL,
    run_at      BIGINT NOT NULL,
    stage       TEXT NOT NULL,
    claimed_at  BIGINT NOT NULL,
    fallback_at BIGINT,
    PRIMARY KEY (guild_id, run_at, stage)
);
CREATE INDEX standup_stages_fallback ON standup_stages (fallback_at) WHERE fallback_at IS NOT NULL;

-- Each member a stage asked, and what became of it: NULL while its DM is on the way, then
-- 'sent', 'refused' (shown in the channel fallback) or 'dropped' (the summary came first).
CREATE TABLE standup_asks (
    guild_id  BIGINT NOT NULL,
    run_at    BIGINT NOT NULL,
    stage     TEXT NOT NULL,
    user_id   BIGINT NOT NULL,
    outbox_id BIGINT,
    outcome   TEXT,
    PRIMARY KEY (guild_id, run_at, stage, user_id)
);
CREATE INDEX standup_asks_outbox ON standup_asks (outbox_id) WHERE outbox_id IS NOT NULL;

-- Direct-message channels, kept for good (Discord returns the same one every time), and
-- whom Discord refused to let us DM: refused_at is retried after a week.
CREATE TABLE dm_channels (
    user_id      BIGINT PRIMARY KEY,
    channel_id   BIGINT,
    refused_at   BIGINT,
    refused_code BIGINT
);

-- A direct message in the outbox names its recipient; its channel_id is 0 until the DM
-- channel is known. standup_run_at ties a prompt or nudge to its summary, so it is dropped
-- once that summary is posted or the schedule changes.
ALTER TABLE outbox ADD COLUMN dm_user_id BIGINT;
ALTER TABLE outbox ADD COLUMN standup_run_at BIGINT;
CREATE INDEX outbox_message ON outbox (message_id) WHERE message_id IS NOT NULL;

-- One away period per member per guild: a new one replaces the old.
CREATE TABLE away_periods (
    guild_id  BIGINT NOT NULL,
    user_id   BIGINT NOT NULL,
    from_at   BIGINT NOT NULL,
    until_at  BIGINT NOT NULL,
    note      TEXT,
    set_by    BIGINT NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
