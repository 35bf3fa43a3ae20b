-- Facts about this installation: 'first_start' is when the bot first ran on this database.
-- Guilds it joins after that get a getting-started message; guilds it was already in do not.
CREATE TABLE installation (
    key TEXT PRIMARY KEY,
    at  BIGINT NOT NULL
);

-- Guilds the bot has seen since the welcome existed, once each: greeted = 1 for those joined
-- after the first start (sent the getting-started message), 0 for those it was already in.
CREATE TABLE guild_welcomes (
    guild_id BIGINT PRIMARY KEY,
    at       BIGINT NOT NULL,
    greeted  BIGINT NOT NULL
);
