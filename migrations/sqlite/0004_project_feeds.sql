-- Calendar feeds (issue 6): one secret token per project, shown to managers by /project feed.
-- The token itself is kept (not a hash) because /project feed shows the same link again; a
-- lookup finds the row by the token's first characters and compares the whole token in
-- constant time, so response timing does not leak how much of a guess was right.
CREATE TABLE project_feeds (
    project_id BIGINT PRIMARY KEY REFERENCES projects (id),
    selector   TEXT NOT NULL UNIQUE,
    token      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
