-- The personal morning digest: weekdays at digest_time ("08:30") in digest_zone, the caller's
-- zone (else the guild's) when they chose it; next_digest_at is its next instant, NULL when off.
ALTER TABLE notify_prefs ADD COLUMN digest_time TEXT;
ALTER TABLE notify_prefs ADD COLUMN digest_zone TEXT;
ALTER TABLE notify_prefs ADD COLUMN next_digest_at BIGINT;
CREATE INDEX notify_prefs_next_digest ON notify_prefs (next_digest_at) WHERE next_digest_at IS NOT NULL;

-- Each digest claimed once per member, guild and instant.
CREATE TABLE digest_runs (
    guild_id BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    at       BIGINT NOT NULL,
    PRIMARY KEY (guild_id, user_id, at)
);
