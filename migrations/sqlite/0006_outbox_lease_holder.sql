-- Which process leased a pending outbox row for sending: a random key per process. PostgreSQL,
-- where several processes send, resends at once the rows of a holder that has died; SQLite has
-- one sender and keeps the column so that both engines share the outbox's statements and
-- `coordinator copy` carries it.
ALTER TABLE outbox ADD COLUMN leased_by BIGINT;
