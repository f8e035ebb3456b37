-- A check value of the audit key (an HMAC of a fixed text under it), so that verifying with
-- another key reports the wrong key instead of an altered first record. Written by the first
-- record of a new chain, or by the first verification of an older chain that passes.
ALTER TABLE audit_chain_head ADD COLUMN key_check TEXT;
