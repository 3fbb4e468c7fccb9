-- Each unit's login per upstream system, sealed by the vault (auth/vault.rs). The key is never
-- stored; key_id tells which key sealed a row. username_shown is the login as it may be displayed
-- (citizen-ID numbers masked).
CREATE TABLE credentials (
    system         TEXT NOT NULL,
    unit           TEXT NOT NULL,
    username_shown TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    nonce          BLOB NOT NULL,
    ciphertext     BLOB NOT NULL,
    set_at         TEXT NOT NULL,
    PRIMARY KEY (system, unit)
);
