-- Foundation: institutions, roles and the permission matrix, users, sessions, audit.
-- Instants are UTC microseconds since the epoch (INTEGER), identical on both backends.

CREATE TABLE institution (
    id             INTEGER PRIMARY KEY,
    code           TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    level          INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    kind           TEXT    NOT NULL CHECK (kind IN ('management', 'self_run', 'agency')),
    status         TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'closed')),
    parent_id      INTEGER REFERENCES institution (id),
    path           TEXT    NOT NULL UNIQUE,
    effective_from TEXT    NOT NULL,
    effective_to   TEXT,
    created_us     INTEGER NOT NULL,
    updated_us     INTEGER NOT NULL
);
CREATE INDEX institution_parent ON institution (parent_id);

CREATE TABLE role (
    code            TEXT PRIMARY KEY,
    administered_by TEXT NOT NULL,
    sort            INTEGER NOT NULL
);

CREATE TABLE role_permission (
    role   TEXT NOT NULL REFERENCES role (code),
    action TEXT NOT NULL,
    scope  TEXT NOT NULL CHECK (scope IN ('subtree', 'all')),
    PRIMARY KEY (role, action)
);

CREATE TABLE app_user (
    id                   INTEGER PRIMARY KEY,
    username             TEXT    NOT NULL UNIQUE,
    display_name         TEXT    NOT NULL,
    staff_no             TEXT    NOT NULL UNIQUE,
    institution_id       INTEGER NOT NULL REFERENCES institution (id),
    status               TEXT    NOT NULL CHECK (status IN ('active', 'frozen', 'deregistered')),
    password_hash        TEXT    NOT NULL,
    password_changed_us  INTEGER NOT NULL,
    must_change_password INTEGER NOT NULL,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until_us      INTEGER,
    created_us           INTEGER NOT NULL,
    updated_us           INTEGER NOT NULL
);
CREATE INDEX app_user_institution ON app_user (institution_id);

CREATE TABLE user_role (
    user_id INTEGER NOT NULL REFERENCES app_user (id),
    role    TEXT    NOT NULL REFERENCES role (code),
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_role_role ON user_role (role);

CREATE TABLE password_history (
    user_id       INTEGER NOT NULL REFERENCES app_user (id),
    password_hash TEXT    NOT NULL,
    set_us        INTEGER NOT NULL
);
CREATE INDEX password_history_user ON password_history (user_id, set_us);

CREATE TABLE session (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES app_user (id),
    csrf_token   TEXT    NOT NULL,
    created_us   INTEGER NOT NULL,
    last_seen_us INTEGER NOT NULL,
    ip           TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL,
    ended_us     INTEGER,
    end_reason   TEXT
);
CREATE INDEX session_by_user ON session (user_id, ended_us);

CREATE TABLE audit_chain_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    seq       INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
INSERT INTO audit_chain_head (id, seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_log (
    seq            INTEGER PRIMARY KEY,
    at_us          INTEGER NOT NULL,
    user_id        INTEGER,
    username       TEXT    NOT NULL,
    roles          TEXT    NOT NULL,
    institution_id INTEGER,
    ip             TEXT    NOT NULL,
    user_agent     TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    target_type    TEXT    NOT NULL,
    target_id      TEXT    NOT NULL,
    detail         TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at_us);
CREATE INDEX audit_log_user ON audit_log (username, at_us);
CREATE INDEX audit_log_action ON audit_log (action, at_us);

-- Append-only through this database account (R-AUD-2).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
