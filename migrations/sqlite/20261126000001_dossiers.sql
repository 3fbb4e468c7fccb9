-- Dossiers as imported: one row per (source, MaHoSo), the version with the latest CapNhatLuc.
-- Instants are UTC epoch seconds; the raw record is kept as received (JSON object text) so that
-- every figure can be traced back to what the source said.
CREATE TABLE dossiers (
    id                      INTEGER PRIMARY KEY,
    source                  TEXT    NOT NULL,
    record_key              TEXT    NOT NULL,
    procedure_code          TEXT    NOT NULL,
    field_code              TEXT    NOT NULL,
    field_name              TEXT    NOT NULL,
    unit_code               TEXT    NOT NULL,
    channel                 TEXT    NOT NULL,
    status                  INTEGER NOT NULL,
    received_at             INTEGER,
    due_at                  INTEGER,
    supplement_requested_at INTEGER,
    finished_at             INTEGER,
    returned_at             INTEGER,
    updated_at              INTEGER,
    result_withdrawal       INTEGER NOT NULL,
    deleted                 INTEGER NOT NULL,
    raw                     TEXT    NOT NULL,
    revision                INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

-- Records that could not be read, by key, until a readable version of the same key arrives.
CREATE TABLE rejected_records (
    source      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (source, record_key)
);
