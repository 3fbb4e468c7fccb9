-- Officials of a unit who read its figures (issue 17): a viewer sees one unit and its subtree.
-- Passwords are argon2 hashes; an access is handed out as a one-time link whose token is kept
-- only as its SHA-256. Browser sessions, operators' and viewers', live here too (by the SHA-256
-- of their id), so replicas share them and a restart signs no one out.
CREATE TABLE viewers (
    name TEXT PRIMARY KEY,
    unit TEXT NOT NULL,
    password_hash TEXT,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE viewer_links (
    token_sha256 TEXT PRIMARY KEY,
    viewer TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE admin_sessions (
    id_sha256 TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT,
    csrf TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_by_name ON admin_sessions (role, name);
