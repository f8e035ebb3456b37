-- Scoped customer search at a million customers (issue 5): the subtree range, tier and name
-- prefix are all answered from one index, in the order the list is shown (institution, tier,
-- name), so a page stops after its rows instead of sorting every match. It replaces the
-- (owner_path, tier) index, its prefix.
DROP INDEX customer_scope;
CREATE INDEX customer_search ON customer (owner_path, tier, name, status);
