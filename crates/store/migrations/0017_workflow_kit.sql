-- The workflow kit (R-CUS-7 and every approval after it): a request moves by one UPDATE
-- guarded by its status and version, so of two concurrent decisions exactly one wins; a
-- proposer may withdraw a pending proposal; at most one proposal is pending per customer.
--@sqlite --
--@sqlite -- SQLite cannot change a CHECK constraint: the proposal table is made again with the new
--@sqlite -- status and the version column (nothing references it).
--@sqlite CREATE TABLE customer_proposal_new (
--@sqlite     id             INTEGER PRIMARY KEY,
--@sqlite     kind           TEXT   NOT NULL CHECK (kind IN ('add', 'modify', 'delete')),
--@sqlite     customer_id    BIGINT REFERENCES customer (id),
--@sqlite     outlet_id      BIGINT NOT NULL REFERENCES institution (id),
--@sqlite     outlet_path    TEXT   NOT NULL,
--@sqlite     proposer_id    BIGINT NOT NULL REFERENCES app_user (id),
--@sqlite     base_version   BIGINT,
--@sqlite     payload_sealed BLOB   NOT NULL,
--@sqlite     before_masked  TEXT   NOT NULL,
--@sqlite     after_masked   TEXT   NOT NULL,
--@sqlite     status         TEXT   NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
--@sqlite     decided_by     BIGINT REFERENCES app_user (id),
--@sqlite     decided_us     BIGINT,
--@sqlite     comment        TEXT   NOT NULL DEFAULT '',
--@sqlite     created_us     BIGINT NOT NULL,
--@sqlite     version        BIGINT NOT NULL DEFAULT 0
--@sqlite );
--@sqlite INSERT INTO customer_proposal_new (id, kind, customer_id, outlet_id, outlet_path, proposer_id, base_version,
--@sqlite         payload_sealed, before_masked, after_masked, status, decided_by, decided_us, comment, created_us)
--@sqlite     SELECT id, kind, customer_id, outlet_id, outlet_path, proposer_id, base_version, payload_sealed,
--@sqlite            before_masked, after_masked, status, decided_by, decided_us, comment, created_us
--@sqlite       FROM customer_proposal;
--@sqlite DROP TABLE customer_proposal;
--@sqlite ALTER TABLE customer_proposal_new RENAME TO customer_proposal;
--@sqlite CREATE INDEX customer_proposal_queue ON customer_proposal (status, outlet_path);
--@sqlite CREATE INDEX customer_proposal_proposer ON customer_proposal (proposer_id, created_us);
--@postgres ALTER TABLE customer_proposal DROP CONSTRAINT customer_proposal_status_check;
--@postgres ALTER TABLE customer_proposal ADD CONSTRAINT customer_proposal_status_check
--@postgres     CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn'));
--@postgres ALTER TABLE customer_proposal ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Before the rule existed a customer could have several pending proposals: the newest stays,
-- the older ones are withdrawn with a note saying why (the audit trail keeps their history).
--@sqlite UPDATE customer_proposal SET status = 'withdrawn', comment = 'superseded by a newer proposal (migration 0017)'
--@sqlite  WHERE status = 'pending' AND customer_id IS NOT NULL
--@sqlite    AND id < (SELECT MAX(n.id) FROM customer_proposal n WHERE n.customer_id = customer_proposal.customer_id AND n.status = 'pending');
--@postgres UPDATE customer_proposal p SET status = 'withdrawn', comment = 'superseded by a newer proposal (migration 0017)'
--@postgres  WHERE p.status = 'pending' AND p.customer_id IS NOT NULL
--@postgres    AND p.id < (SELECT MAX(n.id) FROM customer_proposal n WHERE n.customer_id = p.customer_id AND n.status = 'pending');
CREATE UNIQUE INDEX customer_proposal_one_pending ON customer_proposal (customer_id)
    WHERE status = 'pending' AND customer_id IS NOT NULL;

ALTER TABLE suspect_item ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
