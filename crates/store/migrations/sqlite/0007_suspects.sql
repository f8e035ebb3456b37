-- Suspicious customer information (可疑客户信息, R-ETL-4): the same mobile/phone number or the
-- same bank account under two or more different customers, found by comparing blind indexes
-- after each load, routed to the owning outlets and closed within 3 working days.

CREATE TABLE suspect_item (
    id             INTEGER PRIMARY KEY,
    -- 'contact': a mobile or fixed-line number; 'account': a settlement or holding account.
    kind           TEXT    NOT NULL CHECK (kind IN ('contact', 'account')),
    value_bidx     TEXT    NOT NULL,
    value_masked   TEXT    NOT NULL,
    -- The sorted customer ids of the group: a group that gains or loses a customer is a new item.
    members_key    TEXT    NOT NULL,
    listed_on      TEXT    NOT NULL,
    due_on         TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('open', 'escalated', 'genuine', 'corrected')),
    -- Set when the item went to the department head: by the investigator, or for being overdue.
    escalated_us   BIGINT,
    overdue        BOOLEAN NOT NULL DEFAULT FALSE,
    closed_by      BIGINT  REFERENCES app_user (id),
    closed_us      BIGINT,
    note           TEXT    NOT NULL DEFAULT '',
    created_us     BIGINT  NOT NULL,
    UNIQUE (kind, value_bidx, members_key)
);
CREATE INDEX suspect_item_status ON suspect_item (status, due_on);

-- The customers of an item, with who served them when it was listed (for the staff report).
CREATE TABLE suspect_member (
    item_id     BIGINT NOT NULL REFERENCES suspect_item (id),
    customer_id BIGINT NOT NULL REFERENCES customer (id),
    manager_id  BIGINT REFERENCES app_user (id),
    PRIMARY KEY (item_id, customer_id)
);
CREATE INDEX suspect_member_customer ON suspect_member (customer_id);
CREATE INDEX suspect_member_manager ON suspect_member (manager_id);

-- Days that differ from the Monday-to-Friday week: public holidays (working = false) and the
-- weekend days worked in exchange (调休, working = true), as the State Council publishes them.
CREATE TABLE calendar_day (
    day     TEXT    PRIMARY KEY,
    working BOOLEAN NOT NULL,
    name    TEXT    NOT NULL
);

-- The list is seen where its customers are served; investigated by the outlet supervisor
-- (渠道内勤) and the department staff of the customer service department (客户服务部), who
-- supervises; overdue items reach the department head; the staff report is for the heads.
INSERT INTO role_permission (role, action, scope) VALUES
    ('bank_leader', 'suspect.view', 'subtree'),
    ('dept_head', 'suspect.view', 'subtree'),
    ('dept_staff', 'suspect.view', 'subtree'),
    ('am_supervisor', 'suspect.view', 'subtree'),
    ('account_manager', 'suspect.view', 'assigned'),
    ('dept_head', 'suspect.resolve', 'subtree'),
    ('dept_staff', 'suspect.resolve', 'subtree'),
    ('am_supervisor', 'suspect.resolve', 'subtree'),
    ('bank_leader', 'suspect.report', 'subtree'),
    ('dept_head', 'suspect.report', 'subtree'),
    ('dept_staff', 'suspect.report', 'subtree'),
    ('am_supervisor', 'suspect.report', 'subtree');
