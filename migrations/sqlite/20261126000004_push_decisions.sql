-- Every push decision, with the remote version it left: the history an operator reads, and how
-- the sink client knows which version is our own last write.
CREATE TABLE push_decisions (
    id             INTEGER PRIMARY KEY,
    system         TEXT    NOT NULL,
    form           TEXT    NOT NULL,
    period         TEXT    NOT NULL,
    unit           TEXT    NOT NULL,
    decision       TEXT    NOT NULL,
    remote_version INTEGER,
    content_hash   TEXT    NOT NULL,
    detail         TEXT    NOT NULL,
    decided_at     TEXT    NOT NULL
);

CREATE INDEX push_decisions_report ON push_decisions (system, form, period, unit, id);
