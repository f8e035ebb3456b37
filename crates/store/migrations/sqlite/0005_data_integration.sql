-- Data integration (R-ETL-1..6): the product catalogue, the customer's settlement account
-- (sealed, blind-indexed for the suspicious list), journal numbers as transaction keys, the
-- provenance of imported rows, and the import runs with their checkpoints.

CREATE TABLE product (
    code         TEXT PRIMARY KEY,
    product_type TEXT NOT NULL CHECK (product_type IN
                     ('demand', 'time', 'wealth', 'fund', 'insurance', 'bond', 'loan')),
    name         TEXT NOT NULL,
    currency     TEXT NOT NULL,
    risk_level   TEXT
);

CREATE TABLE import_run (
    id            INTEGER PRIMARY KEY,
    business_date TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    status        TEXT   NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    started_us    BIGINT NOT NULL,
    finished_us   BIGINT,
    -- Per file: read, inserted, updated, unchanged, rejected (JSON).
    counts        TEXT   NOT NULL,
    message       TEXT   NOT NULL
);
CREATE INDEX import_run_date ON import_run (business_date, source);

-- How far a run got in each file: a rerun after a crash goes on from here.
CREATE TABLE import_checkpoint (
    run_id    BIGINT NOT NULL REFERENCES import_run (id),
    file      TEXT   NOT NULL,
    rows_done BIGINT NOT NULL,
    counts    TEXT   NOT NULL,
    PRIMARY KEY (run_id, file)
);

ALTER TABLE customer ADD COLUMN settlement_sealed BLOB;
ALTER TABLE customer ADD COLUMN settlement_bidx TEXT;
ALTER TABLE customer ADD COLUMN settlement_masked TEXT;
-- HMAC of the extract row last loaded: an identical row is counted unchanged, not rewritten.
ALTER TABLE customer ADD COLUMN source_hash TEXT;
-- Provenance (R-ETL-6): the import run and the row the values came from.
ALTER TABLE customer ADD COLUMN source_run BIGINT;
ALTER TABLE customer ADD COLUMN source_row BIGINT;
CREATE INDEX customer_settlement_bidx ON customer (settlement_bidx);

ALTER TABLE account ADD COLUMN source_hash TEXT;
ALTER TABLE account ADD COLUMN source_run BIGINT;
ALTER TABLE account ADD COLUMN source_row BIGINT;

ALTER TABLE txn ADD COLUMN txn_no TEXT;
ALTER TABLE txn ADD COLUMN source_run BIGINT;
CREATE UNIQUE INDEX txn_no ON txn (txn_no);
