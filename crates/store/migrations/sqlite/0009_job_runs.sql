-- Background jobs (R-OPS-4): each scheduled run of a job (the nightly load: import → tiering
-- → suspicious list) is claimed by one app node through this table's unique key, so it runs
-- at most once across nodes; a claim whose node died is taken over when its lease expires.
CREATE TABLE job_run (
    id             INTEGER PRIMARY KEY,
    job            TEXT   NOT NULL,
    -- Which occurrence: for the nightly job, the day (YYYY-MM-DD).
    run_key        TEXT   NOT NULL,
    node           TEXT   NOT NULL,
    status         TEXT   NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    started_us     BIGINT NOT NULL,
    lease_until_us BIGINT NOT NULL,
    finished_us    BIGINT,
    -- What the run did (JSON), and why it failed.
    detail         TEXT   NOT NULL DEFAULT '{}',
    message        TEXT   NOT NULL DEFAULT '',
    UNIQUE (job, run_key)
);
