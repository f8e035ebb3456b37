-- What a request revealed and the next page shows once (POST → redirect → GET): sealed with
-- the data key, taken (and cleared) by that page, cleared when the session ends.
ALTER TABLE session ADD COLUMN shown_sealed BYTEA;
