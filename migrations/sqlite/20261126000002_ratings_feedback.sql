-- Ratings and feedback: one row per (source, key), the version with the latest CapNhatLuc, kept as
-- received. They are few next to dossiers, so they are parsed from `raw` when read.
CREATE TABLE ratings (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    record_key  TEXT    NOT NULL,
    updated_at  INTEGER,
    raw         TEXT    NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    record_key  TEXT    NOT NULL,
    updated_at  INTEGER,
    raw         TEXT    NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

-- Rejects of every kind: a rating key may equal a dossier key.
CREATE TABLE rejected_records_v2 (
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (kind, source, record_key)
);
INSERT INTO rejected_records_v2 (kind, source, record_key, reason, raw, rejected_at)
    SELECT 'dossier', source, record_key, reason, raw, rejected_at FROM rejected_records;
DROP TABLE rejected_records;
ALTER TABLE rejected_records_v2 RENAME TO rejected_records;
