-- A customer's AUM (资产, total financial assets) moves out of the wide customer row into a
-- narrow table of its own. The recomputation after each load rewrites the AUM of every
-- customer whose balances moved, and on some nights (interest posted on every deposit) that is
-- all of them: in the customer row each rewrote the whole row and an index entry
-- (`customer_vip` held the AUM); here a row of two integers. A customer without a row holds
-- no assets.
CREATE TABLE customer_aum (
    customer_id INTEGER PRIMARY KEY REFERENCES customer (id),
    aum         BIGINT NOT NULL
);
INSERT INTO customer_aum (customer_id, aum) SELECT id, aum FROM customer WHERE aum <> 0;

-- An interrupted large load may have set the index aside, to be made again later.
DELETE FROM import_deferred_index WHERE name = 'customer_vip';
DROP INDEX IF EXISTS customer_vip;
ALTER TABLE customer DROP COLUMN aum;
