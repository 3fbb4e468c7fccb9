-- PostgreSQL, the production store: the same tables as SQLite's migrations build, in one step.
-- Instants are UTC epoch seconds (BIGINT); flags are BIGINT 0/1 so both backends share queries.

-- Dossiers as imported: one row per (source, MaHoSo), the version with the latest CapNhatLuc, the
-- raw record kept as received so that every figure can be traced back to what the source said.
CREATE TABLE dossiers (
    id                      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source                  TEXT   NOT NULL,
    record_key              TEXT   NOT NULL,
    procedure_code          TEXT   NOT NULL,
    field_code              TEXT   NOT NULL,
    field_name              TEXT   NOT NULL,
    unit_code               TEXT   NOT NULL,
    channel                 TEXT   NOT NULL,
    status                  BIGINT NOT NULL,
    received_at             BIGINT,
    due_at                  BIGINT,
    supplement_requested_at BIGINT,
    finished_at             BIGINT,
    returned_at             BIGINT,
    updated_at              BIGINT,
    result_withdrawal       BIGINT NOT NULL,
    deleted                 BIGINT NOT NULL,
    raw                     TEXT   NOT NULL,
    revision                BIGINT NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

CREATE TABLE ratings (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     TEXT   NOT NULL,
    record_key TEXT   NOT NULL,
    updated_at BIGINT,
    raw        TEXT   NOT NULL,
    revision   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

CREATE TABLE feedback (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source     TEXT   NOT NULL,
    record_key TEXT   NOT NULL,
    updated_at BIGINT,
    raw        TEXT   NOT NULL,
    revision   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (source, record_key)
);

-- Records that could not be read, by key, until a readable version of the same key arrives.
CREATE TABLE rejected_records (
    kind        TEXT NOT NULL,
    source      TEXT NOT NULL,
    record_key  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw         TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (kind, source, record_key)
);

-- Each unit's login per upstream system, sealed by the vault (auth/vault.rs); the key never here.
CREATE TABLE credentials (
    system         TEXT  NOT NULL,
    unit           TEXT  NOT NULL,
    username_shown TEXT  NOT NULL,
    key_id         TEXT  NOT NULL,
    nonce          BYTEA NOT NULL,
    ciphertext     BYTEA NOT NULL,
    set_at         TEXT  NOT NULL,
    PRIMARY KEY (system, unit)
);

-- The incremental pull's progress: per source and record kind, the upper bound of the last
-- window whose records were stored. Only ever moves forward.
CREATE TABLE watermarks (
    source TEXT   NOT NULL,
    kind   TEXT   NOT NULL,
    upper  BIGINT NOT NULL,
    PRIMARY KEY (source, kind)
);

CREATE TABLE outbox (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system             TEXT   NOT NULL,
    form               TEXT   NOT NULL,
    period             TEXT   NOT NULL,
    unit               TEXT   NOT NULL,
    state              TEXT   NOT NULL,
    detail             TEXT   NOT NULL DEFAULT '',
    draft              TEXT,
    content_hash       TEXT,
    generation         BIGINT NOT NULL DEFAULT 0,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT,
    remote_version     BIGINT,
    our_version        BIGINT,
    incarnation        BIGINT NOT NULL DEFAULT 0,
    force_by           TEXT,
    force_reason       TEXT,
    lease_owner        TEXT,
    lease_until        BIGINT,
    sending_generation BIGINT,
    armed_by           TEXT    NOT NULL DEFAULT 'schedule',
    changed_at         BIGINT NOT NULL,
    UNIQUE (system, form, period, unit)
);
CREATE INDEX outbox_by_state ON outbox (state, system);
CREATE INDEX outbox_by_period ON outbox (period, unit);

CREATE TABLE outbox_attempts (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id      BIGINT NOT NULL REFERENCES outbox (id),
    at             BIGINT NOT NULL,
    generation     BIGINT NOT NULL,
    content_hash   TEXT,
    answer         TEXT   NOT NULL,
    remote_version BIGINT,
    detail         TEXT   NOT NULL,
    worker         TEXT   NOT NULL
);
CREATE INDEX outbox_attempts_by_row ON outbox_attempts (outbox_id, id);

CREATE TABLE audit (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           BIGINT NOT NULL,
    actor        TEXT   NOT NULL,
    action       TEXT   NOT NULL,
    system       TEXT,
    form         TEXT,
    period       TEXT,
    unit         TEXT,
    content_hash TEXT,
    base_version BIGINT,
    new_version  BIGINT,
    answer       TEXT,
    reason       TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_period ON audit (period, id);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit is append-only';
END;
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TABLE pulls (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT   NOT NULL,
    kind        TEXT   NOT NULL,
    from_at     BIGINT NOT NULL,
    to_at       BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    detail      TEXT   NOT NULL,
    records     BIGINT NOT NULL,
    finished_at BIGINT NOT NULL
);
CREATE INDEX pulls_by_kind ON pulls (source, kind, id);

CREATE TABLE fires (
    job         TEXT   NOT NULL,
    slot        BIGINT NOT NULL,
    claimed_by  TEXT   NOT NULL,
    claimed_at  BIGINT NOT NULL,
    outcome     TEXT,
    finished_at BIGINT,
    PRIMARY KEY (job, slot)
);

CREATE TABLE runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cause       TEXT   NOT NULL,
    actor       TEXT   NOT NULL,
    period      TEXT   NOT NULL,
    scope       TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,
    summary     TEXT   NOT NULL DEFAULT ''
);

CREATE TABLE locks (
    name  TEXT   PRIMARY KEY,
    owner TEXT   NOT NULL,
    until BIGINT NOT NULL
);
