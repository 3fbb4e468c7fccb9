-- The incremental pull's progress: per source and record kind, the fixed upper bound (UTC epoch
-- seconds) of the last window whose records were stored.
CREATE TABLE watermarks (
    source TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    upper  INTEGER NOT NULL,
    PRIMARY KEY (source, kind)
);
