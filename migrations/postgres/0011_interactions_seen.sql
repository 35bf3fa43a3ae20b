-- Interactions received on the Interactions Endpoint, by id: one already handled is a replay
-- and refused, whichever process behind the load balancer sees it. Rows older than the
-- 5-minute timestamp window can go (a replay that old is refused by its timestamp).
CREATE TABLE interactions_seen (
    id BIGINT PRIMARY KEY,
    at BIGINT NOT NULL
);
CREATE INDEX interactions_seen_at ON interactions_seen (at);
