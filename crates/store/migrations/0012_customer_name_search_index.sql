-- A name search over a broad scope (a city branch's 400,000 customers): `customer_search`
-- leads with the institution path, so a prefix of the name cannot narrow a subtree's range
-- and counting the matches walked all of it. This index leads with the name and carries the
-- tier, path and status, so such a search reads only the entries of that name prefix, and
-- never the table. It replaces the index on the name alone, its prefix.
DROP INDEX customer_name;
CREATE INDEX customer_name ON customer (name, tier, owner_path, status);
--@sqlite -- The planner weighs the new index by its statistics (and the samples of SQLite's STAT4), so
--@sqlite -- they are gathered now rather than at the next load.
--@sqlite ANALYZE customer;
