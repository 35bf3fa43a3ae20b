-- What someone typed into the Create task form when it was refused, so that Try again
-- reopens the form with it (a button's custom id holds only 100 characters).
CREATE TABLE form_drafts (
    id INTEGER PRIMARY KEY,
    guild_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    -- The message the form was opened from: "channel:message".
    source      TEXT NOT NULL,
    title       TEXT NOT NULL,
    due         TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
