-- Password accounts. An account owns one player id: a guest who registers
-- keeps theirs. Passwords are kept only as Argon2id hashes (PHC strings).
CREATE TABLE accounts (
    email TEXT PRIMARY KEY,
    player_id TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Refresh tokens, by the SHA-256 of the token. Each works once: using it
-- sets used_at, and a used or expired one is refused. The tokens one
-- sign-in led to share a family; a used token presented again (a stolen
-- copy) deletes its whole family, so the thief's and the owner's next
-- refresh both fail and the owner signs in again.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    player_id TEXT NOT NULL,
    family TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
