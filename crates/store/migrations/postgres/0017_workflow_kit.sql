-- The workflow kit (R-CUS-7 and every approval after it): a request moves by one UPDATE
-- guarded by its status and version, so of two concurrent decisions exactly one wins; a
-- proposer may withdraw a pending proposal; at most one proposal is pending per customer.
ALTER TABLE customer_proposal DROP CONSTRAINT customer_proposal_status_check;
ALTER TABLE customer_proposal ADD CONSTRAINT customer_proposal_status_check
    CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn'));
ALTER TABLE customer_proposal ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Before the rule existed a customer could have several pending proposals: the newest stays,
-- the older ones are withdrawn with a note saying why (the audit trail keeps their history).
UPDATE customer_proposal p SET status = 'withdrawn', comment = 'superseded by a newer proposal (migration 0017)'
 WHERE p.status = 'pending' AND p.customer_id IS NOT NULL
   AND p.id < (SELECT MAX(n.id) FROM customer_proposal n WHERE n.customer_id = p.customer_id AND n.status = 'pending');
CREATE UNIQUE INDEX customer_proposal_one_pending ON customer_proposal (customer_id)
    WHERE status = 'pending' AND customer_id IS NOT NULL;

ALTER TABLE suspect_item ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
