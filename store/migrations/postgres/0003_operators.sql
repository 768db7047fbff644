-- Named operator accounts with a role. Only a hash of each bearer token is
-- kept: a stolen database does not hand out working tokens.
CREATE TABLE operators (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    sponsor TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
