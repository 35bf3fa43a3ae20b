-- Which process leased a pending outbox row for sending: a random key per process, held as a
-- session advisory lock for the process's life. A lease whose key no session holds belongs to
-- a process that died, and its rows are sent again at once rather than when the lease runs out.
ALTER TABLE outbox ADD COLUMN leased_by BIGINT;
