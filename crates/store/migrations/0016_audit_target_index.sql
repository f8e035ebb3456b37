-- The auditor's search by customer (R-AUD-3) reads the records whose target is the customer
-- or one of its change proposals, newest first.
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
