-- Which Postgres transaction applied each batch: the ingest writer groups batches that
-- arrive together into one transaction (each in its own savepoint), and savepoints get
-- their own xids, so `xmin` cannot tell; txid_current() is the top-level transaction's id.
-- Used to count write transactions (benchmarks, tests); rows from before this migration
-- keep NULL.
ALTER TABLE ingested_batches ADD COLUMN txid BIGINT DEFAULT txid_current();
