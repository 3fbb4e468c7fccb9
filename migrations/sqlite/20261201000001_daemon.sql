-- The daemon's state: the outbox of drafts (one row per system, form, period and unit), every
-- delivery attempt, the append-only audit, the pull log the freshness gate reads, the scheduler's
-- claimed fires, run history and short leases. Instants are UTC epoch seconds.
CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY,
    system             TEXT    NOT NULL,
    form               TEXT    NOT NULL,
    period             TEXT    NOT NULL,
    unit               TEXT    NOT NULL,
    state              TEXT    NOT NULL,
    detail             TEXT    NOT NULL DEFAULT '',
    draft              TEXT,
    content_hash       TEXT,
    generation         INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at    INTEGER,
    remote_version     INTEGER,
    our_version        INTEGER,
    incarnation        INTEGER NOT NULL DEFAULT 0,
    force_by           TEXT,
    force_reason       TEXT,
    lease_owner        TEXT,
    lease_until        INTEGER,
    sending_generation INTEGER,
    armed_by           TEXT    NOT NULL DEFAULT 'schedule',
    changed_at         INTEGER NOT NULL,
    UNIQUE (system, form, period, unit)
);
CREATE INDEX outbox_by_state ON outbox (state, system);
CREATE INDEX outbox_by_period ON outbox (period, unit);

-- What push recorded before the outbox existed: the version of our last write of each report
-- carries over, so those drafts are still known as ours.
INSERT INTO outbox (system, form, period, unit, state, detail, remote_version, our_version, incarnation, changed_at)
SELECT d.system, d.form, d.period, d.unit,
       CASE d.decision WHEN 'created' THEN 'created' WHEN 'updated' THEN 'updated'
                       WHEN 'recreated' THEN 'recreated' ELSE 'unchanged' END,
       'carried over from push history', d.remote_version, d.remote_version, 1,
       CAST(strftime('%s', d.decided_at) AS INTEGER)
FROM push_decisions d
WHERE d.decision IN ('created', 'updated', 'recreated', 'unchanged')
  AND d.id = (SELECT MAX(e.id) FROM push_decisions e
              WHERE e.system = d.system AND e.form = d.form AND e.period = d.period AND e.unit = d.unit
                AND e.decision IN ('created', 'updated', 'recreated', 'unchanged'));
DROP TABLE push_decisions;

CREATE TABLE outbox_attempts (
    id             INTEGER PRIMARY KEY,
    outbox_id      INTEGER NOT NULL REFERENCES outbox (id),
    at             INTEGER NOT NULL,
    generation     INTEGER NOT NULL,
    content_hash   TEXT,
    answer         TEXT    NOT NULL,
    remote_version INTEGER,
    detail         TEXT    NOT NULL,
    worker         TEXT    NOT NULL
);
CREATE INDEX outbox_attempts_by_row ON outbox_attempts (outbox_id, id);

-- Append-only: every write to a reporting system, every forced push and accepted stale source,
-- every credential change and operator action. Never a secret.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    system       TEXT,
    form         TEXT,
    period       TEXT,
    unit         TEXT,
    content_hash TEXT,
    base_version INTEGER,
    new_version  INTEGER,
    answer       TEXT,
    reason       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_by_period ON audit (period, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit is append-only'); END;

-- Every pulled window, succeeded or failed: what the freshness gate reads.
CREATE TABLE pulls (
    id          INTEGER PRIMARY KEY,
    source      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    from_at     INTEGER NOT NULL,
    to_at       INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    detail      TEXT    NOT NULL,
    records     INTEGER NOT NULL,
    finished_at INTEGER NOT NULL
);
CREATE INDEX pulls_by_kind ON pulls (source, kind, id);

-- A scheduled job's fire, claimed once by one replica.
CREATE TABLE fires (
    job         TEXT    NOT NULL,
    slot        INTEGER NOT NULL,
    claimed_by  TEXT    NOT NULL,
    claimed_at  INTEGER NOT NULL,
    outcome     TEXT,
    finished_at INTEGER,
    PRIMARY KEY (job, slot)
);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    cause       TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    scope       TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    summary     TEXT    NOT NULL DEFAULT ''
);

-- Short leases: one run of a period at a time, across replicas.
CREATE TABLE locks (
    name  TEXT    PRIMARY KEY,
    owner TEXT    NOT NULL,
    until INTEGER NOT NULL
);
