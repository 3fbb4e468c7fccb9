-- Real one-stop systems as sources (../shared/spec/real-sources.md).

-- Which date a pulled window is a window of (`updated` for our own contract's CapNhatLuc).
ALTER TABLE pulls ADD COLUMN axis TEXT NOT NULL DEFAULT 'updated';

-- A reject's finding code: `invalid_record`, or `unmapped_value` for a value a source's code
-- table lacks.
ALTER TABLE rejected_records ADD COLUMN code TEXT NOT NULL DEFAULT 'invalid_record';

-- Dossiers still open at a source that has no CapNhatLuc to trust, as last read: they are read
-- again by key, and the freshness gate waits until each was read after the period's settle
-- instant. `remote_id` is the source's own id (iGate's ObjectId); `gone` = 1 when the source no
-- longer returned it.
CREATE TABLE source_open (
    source     TEXT    NOT NULL,
    record_key TEXT    NOT NULL,
    remote_id  TEXT,
    seen_at    INTEGER NOT NULL,
    gone       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (source, record_key)
);
CREATE INDEX source_open_by_seen ON source_open (source, seen_at);

-- What a source's mapping noted about a stored record (an unmapped channel or unit name) or a
-- record the source no longer returns: listed with the reports until the record maps cleanly.
CREATE TABLE source_findings (
    source     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    record_key TEXT    NOT NULL,
    field      TEXT    NOT NULL,
    code       TEXT    NOT NULL,
    unit       TEXT,
    message    TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (source, kind, record_key, field)
);

-- Satisfaction as monthly aggregates per unit and question (`DongBoDanhGia`), kept as received.
CREATE TABLE rating_months (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    record_key  TEXT    NOT NULL,
    updated_at  INTEGER,
    raw         TEXT    NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

-- The receiver's clients (one-stop systems pushing to us) and their password hashes (argon2).
CREATE TABLE receiver_clients (
    source        TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (source, client)
);

-- The receiver's sessions, by the SHA-256 of the session token, so replicas share them.
CREATE TABLE receiver_sessions (
    token_hash TEXT    PRIMARY KEY,
    source     TEXT    NOT NULL,
    client     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
