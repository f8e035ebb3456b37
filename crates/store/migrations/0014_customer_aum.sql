-- A customer's AUM (资产, total financial assets) moves out of the wide customer row into a
-- narrow table of its own. The recomputation after each load rewrites the AUM of every
-- customer whose balances moved, and on some nights (interest posted on every deposit) that is
--@sqlite -- all of them: in the customer row each rewrote the whole row and an index entry
--@sqlite -- (`customer_vip` held the AUM); here a row of two integers. A customer without a row holds
--@sqlite -- no assets.
--@postgres -- all of them: in the customer row each was a new ~830-byte row version with an entry in every
--@postgres -- index (`customer_vip` held the AUM), 98 s at 1M customers; here a ~40-byte row, no index but
--@postgres -- the key's. A customer without a row holds no assets. Half of each page is kept free so a
--@postgres -- night's new versions stay on their page (heap-only, no index entry).
CREATE TABLE customer_aum (
--@sqlite     customer_id INTEGER PRIMARY KEY REFERENCES customer (id),
--@postgres     customer_id BIGINT PRIMARY KEY REFERENCES customer (id),
    aum         BIGINT NOT NULL
--@sqlite );
--@postgres ) WITH (fillfactor = 50);
INSERT INTO customer_aum (customer_id, aum) SELECT id, aum FROM customer WHERE aum <> 0;

-- An interrupted large load may have set the index aside, to be made again later.
DELETE FROM import_deferred_index WHERE name = 'customer_vip';
DROP INDEX IF EXISTS customer_vip;
ALTER TABLE customer DROP COLUMN aum;
