-- Wrong tokens and passwords at the admin HTTP, counted per client address (admin/throttle.rs):
-- kept in the store so every replica sees the same lockout.
CREATE TABLE sign_in_failures (
    address TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    until_at BIGINT NOT NULL
);
