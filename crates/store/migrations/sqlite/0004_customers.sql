-- Customers (R-CUS-1): identity, contacts, accounts and holdings, transactions, assignments,
-- tiers, tags, consents, and the maker-checker proposals that change them (R-CUS-7).
-- C2 values listed in R-PRV-3 are stored sealed (AES-256-GCM, key version in the value) with
-- an HMAC blind index for exact search and their masked form for display; never in clear.
-- Amounts are fen (BIGINT); dates ISO 'YYYY-MM-DD' text; instants UTC microseconds.

-- The permission matrix gains customer scopes. SQLite cannot alter a CHECK, so the table
-- is rebuilt with the same rows.
CREATE TABLE role_permission_v2 (
    role   TEXT NOT NULL REFERENCES role (code),
    action TEXT NOT NULL,
    scope  TEXT NOT NULL CHECK (scope IN ('subtree', 'all', 'assigned', 'vip_standard', 'vip_pool')),
    PRIMARY KEY (role, action)
);
INSERT INTO role_permission_v2 SELECT role, action, scope FROM role_permission;
DROP TABLE role_permission;
ALTER TABLE role_permission_v2 RENAME TO role_permission;

-- Business parameters (R-CUS-4), maintained by biz_admin. Amounts in fen.
CREATE TABLE business_parameter (
    key        TEXT PRIMARY KEY,
    value      BIGINT NOT NULL,
    updated_us BIGINT NOT NULL
);
INSERT INTO business_parameter (key, value, updated_us) VALUES
    ('tier_gold_min', 5000000, 0),
    ('tier_platinum_min', 50000000, 0),
    ('tier_diamond_min', 200000000, 0),
    ('vip_standard_min', 200000000, 0);

CREATE TABLE customer (
    id                   INTEGER PRIMARY KEY,
    customer_no          TEXT    NOT NULL UNIQUE,
    status               TEXT    NOT NULL CHECK (status IN ('active', 'deleted')),
    name                 TEXT    NOT NULL,
    gender               TEXT    CHECK (gender IN ('male', 'female')),
    birth_date           TEXT,
    nationality          TEXT,
    occupation           TEXT,
    education            TEXT,
    marital_status       TEXT,
    id_type              TEXT    NOT NULL,
    id_number_sealed     BLOB,
    id_number_bidx       TEXT,
    id_number_masked     TEXT,
    id_issuer            TEXT,
    id_expiry            TEXT,
    mobile_sealed        BLOB,
    mobile_bidx          TEXT,
    mobile_masked        TEXT,
    phone_sealed         BLOB,
    phone_bidx           TEXT,
    phone_masked         TEXT,
    email_sealed         BLOB,
    email_masked         TEXT,
    address_sealed       BLOB,
    address_masked       TEXT,
    owner_institution_id BIGINT  NOT NULL REFERENCES institution (id),
    owner_path           TEXT    NOT NULL,
    aum                  BIGINT  NOT NULL DEFAULT 0,
    tier                 TEXT    NOT NULL CHECK (tier IN ('ordinary', 'gold', 'platinum', 'diamond')),
    vip_member           BOOLEAN NOT NULL DEFAULT FALSE,
    points               BIGINT  NOT NULL DEFAULT 0,
    risk_level           TEXT,
    risk_assessed_on     TEXT,
    complete             BOOLEAN NOT NULL,
    version              BIGINT  NOT NULL DEFAULT 1,
    created_us           BIGINT  NOT NULL,
    updated_us           BIGINT  NOT NULL
);
-- Scope by subtree (range on the path) with the common filters behind it.
CREATE INDEX customer_scope ON customer (owner_path, tier);
CREATE INDEX customer_name ON customer (name);
CREATE INDEX customer_id_bidx ON customer (id_number_bidx);
CREATE INDEX customer_mobile_bidx ON customer (mobile_bidx);
CREATE INDEX customer_phone_bidx ON customer (phone_bidx);
CREATE INDEX customer_vip ON customer (owner_path, aum);

CREATE TABLE customer_assignment (
    customer_id BIGINT NOT NULL REFERENCES customer (id),
    user_id     BIGINT NOT NULL REFERENCES app_user (id),
    kind        TEXT   NOT NULL CHECK (kind IN ('manager', 'specialist', 'custody')),
    since       TEXT   NOT NULL,
    until       TEXT,
    PRIMARY KEY (customer_id, kind, user_id)
);
-- An account manager's customers: the scope query starts here.
CREATE INDEX customer_assignment_user ON customer_assignment (user_id, customer_id);
-- One manager and one specialist per customer (R-USR-5).
CREATE UNIQUE INDEX customer_assignment_one ON customer_assignment (customer_id, kind)
    WHERE kind IN ('manager', 'specialist');

CREATE TABLE account (
    id              INTEGER PRIMARY KEY,
    customer_id     BIGINT NOT NULL REFERENCES customer (id),
    account_sealed  BLOB   NOT NULL,
    account_bidx    TEXT   NOT NULL UNIQUE,
    account_masked  TEXT   NOT NULL,
    product_type    TEXT   NOT NULL CHECK (product_type IN
                        ('demand', 'time', 'wealth', 'fund', 'insurance', 'bond', 'loan')),
    product_code    TEXT   NOT NULL,
    product_name    TEXT   NOT NULL,
    currency        TEXT   NOT NULL,
    balance         BIGINT NOT NULL,
    opened_on       TEXT   NOT NULL,
    matures_on      TEXT,
    status          TEXT   NOT NULL CHECK (status IN ('active', 'dormant', 'closed')),
    institution_id  BIGINT NOT NULL REFERENCES institution (id)
);
CREATE INDEX account_customer ON account (customer_id);

CREATE TABLE txn (
    id          INTEGER PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES account (id),
    customer_id BIGINT NOT NULL REFERENCES customer (id),
    at_us       BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    currency    TEXT   NOT NULL,
    channel     TEXT   NOT NULL CHECK (channel IN ('counter', 'atm', 'online', 'mobile', 'pos')),
    summary     TEXT   NOT NULL
);
CREATE INDEX txn_customer ON txn (customer_id, at_us);

CREATE TABLE tier_history (
    id          INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customer (id),
    from_tier   TEXT,
    to_tier     TEXT   NOT NULL,
    aum         BIGINT NOT NULL,
    reason      TEXT   NOT NULL,
    at_us       BIGINT NOT NULL
);
CREATE INDEX tier_history_customer ON tier_history (customer_id, at_us);

CREATE TABLE customer_tag (
    customer_id BIGINT NOT NULL REFERENCES customer (id),
    tag         TEXT   NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tag_tag ON customer_tag (tag, customer_id);

CREATE TABLE consent (
    id           INTEGER PRIMARY KEY,
    customer_id  BIGINT NOT NULL REFERENCES customer (id),
    purpose      TEXT   NOT NULL,
    scope        TEXT   NOT NULL,
    granted_on   TEXT   NOT NULL,
    channel      TEXT   NOT NULL,
    withdrawn_on TEXT
);
CREATE INDEX consent_customer ON consent (customer_id);

-- Maker-checker proposals (R-CUS-7). The proposed values are sealed as one document; the
-- masked before/after is what reviewers and the audit trail see.
CREATE TABLE customer_proposal (
    id             INTEGER PRIMARY KEY,
    kind           TEXT   NOT NULL CHECK (kind IN ('add', 'modify', 'delete')),
    customer_id    BIGINT REFERENCES customer (id),
    outlet_id      BIGINT NOT NULL REFERENCES institution (id),
    outlet_path    TEXT   NOT NULL,
    proposer_id    BIGINT NOT NULL REFERENCES app_user (id),
    base_version   BIGINT,
    payload_sealed BLOB   NOT NULL,
    before_masked  TEXT   NOT NULL,
    after_masked   TEXT   NOT NULL,
    status         TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by     BIGINT REFERENCES app_user (id),
    decided_us     BIGINT,
    comment        TEXT   NOT NULL DEFAULT '',
    created_us     BIGINT NOT NULL
);
CREATE INDEX customer_proposal_queue ON customer_proposal (status, outlet_path);
CREATE INDEX customer_proposal_proposer ON customer_proposal (proposer_id, created_us);

-- Flags raised for the security auditor (e.g. repeated credit-lookup misses).
CREATE TABLE monitoring_flag (
    id          INTEGER PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES app_user (id),
    kind        TEXT   NOT NULL,
    detail      TEXT   NOT NULL,
    raised_us   BIGINT NOT NULL,
    cleared_us  BIGINT
);
CREATE INDEX monitoring_flag_open ON monitoring_flag (cleared_us, raised_us);

-- Customer actions of R-USR-3. Summaries: leaders and heads of the subtree; detail: the
-- outlet supervisor, assigned managers, VIP head and specialists; nothing for the others.
INSERT INTO role_permission (role, action, scope) VALUES
    ('bank_leader', 'customer.search', 'subtree'),
    ('bank_leader', 'customer.view', 'subtree'),
    ('dept_head', 'customer.search', 'subtree'),
    ('dept_head', 'customer.view', 'subtree'),
    ('am_supervisor', 'customer.search', 'subtree'),
    ('am_supervisor', 'customer.view', 'subtree'),
    ('am_supervisor', 'customer.view_detail', 'subtree'),
    ('am_supervisor', 'customer.reveal', 'subtree'),
    ('am_supervisor', 'customer.approve', 'subtree'),
    ('account_manager', 'customer.search', 'assigned'),
    ('account_manager', 'customer.view', 'assigned'),
    ('account_manager', 'customer.view_detail', 'assigned'),
    ('account_manager', 'customer.reveal', 'assigned'),
    ('account_manager', 'customer.propose', 'assigned'),
    ('vip_head', 'customer.search', 'vip_standard'),
    ('vip_head', 'customer.view', 'vip_standard'),
    ('vip_head', 'customer.view_detail', 'vip_standard'),
    ('vip_head', 'customer.reveal', 'vip_standard'),
    ('vip_specialist', 'customer.search', 'vip_pool'),
    ('vip_specialist', 'customer.view', 'vip_pool'),
    ('vip_specialist', 'customer.view_detail', 'assigned'),
    ('vip_specialist', 'customer.reveal', 'assigned'),
    ('vip_specialist', 'customer.propose', 'assigned'),
    ('data_entry', 'customer.propose', 'subtree'),
    ('credit_reviewer', 'customer.credit_lookup', 'all');
