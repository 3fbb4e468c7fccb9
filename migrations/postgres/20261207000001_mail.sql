-- E-mail to units and the operator (issue 19): an outbox of messages, a row per message, keyed so
-- that a message is enqueued once however often its trigger runs. Delivery is at most once: a
-- row is 'sending' from the claim until the server's answer is recorded; a 'sending' row whose
-- lease ran out (its worker died between the server's 250 and the commit, or before) becomes
-- 'uncertain' and is never sent again by itself. States: pending, sending, retrying (a 4xx
-- answer, tried again at next_attempt_at), sent, failed (a 5xx answer; detail says why),
-- uncertain.
CREATE TABLE mail_messages (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             TEXT   NOT NULL UNIQUE,
    kind            TEXT   NOT NULL,
    period          TEXT   NOT NULL,
    unit            TEXT,
    recipient       TEXT   NOT NULL,
    subject         TEXT   NOT NULL,
    body_text       TEXT   NOT NULL,
    body_html       TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    detail          TEXT   NOT NULL DEFAULT '',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    changed_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_messages_by_state ON mail_messages (state, next_attempt_at);
CREATE INDEX mail_messages_by_unit ON mail_messages (period, unit);

-- Addresses of a unit that asked for no more e-mail (set from the unit's page or the CLI).
CREATE TABLE mail_opt_outs (
    unit    TEXT   NOT NULL,
    address TEXT   NOT NULL,
    set_by  TEXT   NOT NULL,
    set_at  BIGINT NOT NULL,
    PRIMARY KEY (unit, address)
);
