-- Secondary indexes a large load has set aside (R-ETL-2): inserting a million rows into an
-- index of random keys (blind indexes) costs a page write per row and index, building the
-- index afterwards one sort. Each is recorded here in the transaction that drops it, so the
-- load's end, or its rerun after a crash, builds it again from this definition.
CREATE TABLE import_deferred_index (
    name       TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    definition TEXT NOT NULL
);
