-- Recurring tasks: the rule as written ("weekly", "every 2 weeks"), the zone it was read in,
-- and the series' first due time (its local time of day and day of the month). When a
-- repeating task is done, its next occurrence is created once and remembered here, so
-- reopening and closing it again never makes a second one.
ALTER TABLE tasks ADD COLUMN repeat_rule TEXT;
ALTER TABLE tasks ADD COLUMN repeat_zone TEXT;
ALTER TABLE tasks ADD COLUMN repeat_anchor BIGINT;
ALTER TABLE tasks ADD COLUMN next_occurrence_id BIGINT;
