-- The workflow kit (R-CUS-7 and every approval after it): a request moves by one UPDATE
-- guarded by its status and version, so of two concurrent decisions exactly one wins; a
-- proposer may withdraw a pending proposal; at most one proposal is pending per customer.
--
-- SQLite cannot change a CHECK constraint: the proposal table is made again with the new
-- status and the version column (nothing references it).
CREATE TABLE customer_proposal_new (
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
    status         TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    decided_by     BIGINT REFERENCES app_user (id),
    decided_us     BIGINT,
    comment        TEXT   NOT NULL DEFAULT '',
    created_us     BIGINT NOT NULL,
    version        BIGINT NOT NULL DEFAULT 0
);
INSERT INTO customer_proposal_new (id, kind, customer_id, outlet_id, outlet_path, proposer_id, base_version,
        payload_sealed, before_masked, after_masked, status, decided_by, decided_us, comment, created_us)
    SELECT id, kind, customer_id, outlet_id, outlet_path, proposer_id, base_version, payload_sealed,
           before_masked, after_masked, status, decided_by, decided_us, comment, created_us
      FROM customer_proposal;
DROP TABLE customer_proposal;
ALTER TABLE customer_proposal_new RENAME TO customer_proposal;
CREATE INDEX customer_proposal_queue ON customer_proposal (status, outlet_path);
CREATE INDEX customer_proposal_proposer ON customer_proposal (proposer_id, created_us);

-- Before the rule existed a customer could have several pending proposals: the newest stays,
-- the older ones are withdrawn with a note saying why (the audit trail keeps their history).
UPDATE customer_proposal SET status = 'withdrawn', comment = 'superseded by a newer proposal (migration 0017)'
 WHERE status = 'pending' AND customer_id IS NOT NULL
   AND id < (SELECT MAX(n.id) FROM customer_proposal n WHERE n.customer_id = customer_proposal.customer_id AND n.status = 'pending');
CREATE UNIQUE INDEX customer_proposal_one_pending ON customer_proposal (customer_id)
    WHERE status = 'pending' AND customer_id IS NOT NULL;

ALTER TABLE suspect_item ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
