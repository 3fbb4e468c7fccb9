-- Fires claimed and not finished (issue 20): each daemon tick looks for those whose replica is gone,
-- to run them again; the index keeps that look as small as the few fires in flight, however many
-- quarters of finished fires the table holds.
CREATE INDEX fires_unfinished ON fires (slot) WHERE outcome IS NULL;
