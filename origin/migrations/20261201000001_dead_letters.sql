-- Rows of an ingest batch that Postgres could not store, kept with the reason while the
-- rest of the batch lands. Before this table, one bad record (a webhook payload with
-- `\u0000`, which jsonb cannot hold) failed its whole batch on every retry and blocked
-- the producer behind it forever.
--
-- A row is dead-lettered either by validation (the reason is the same code a refusal
-- would have had: `invalid_launch`, `payload_contains_nul`...) or by Postgres itself
-- (`database:<SQLSTATE>`, for a data or constraint error no validation foresaw): the
-- batch is then retried row by row, each in its own savepoint. Dead letters are written
-- in the batch's own transaction, after its id is claimed, so a resent batch adds none.
--
-- `row_json` is TEXT, not JSONB: it holds exactly what was refused, which JSONB may not
-- be able to represent. `launch-edge-origin dead-letters requeue ID` (or the worker's
-- `POST /admin/dead-letters/origin:ID/requeue`) applies the row again once the cause is
-- fixed, and records when it did in the same transaction, so a row is applied once.
CREATE TABLE dead_letters (
    id              BIGSERIAL   PRIMARY KEY,
    batch_id        TEXT        NOT NULL,
    producer        TEXT        NOT NULL,
    kind            TEXT        NOT NULL CHECK (kind IN ('counter', 'uniques', 'webhook_event', 'ph_stat')),
    -- Position of the row in its batch's list of that kind.
    ordinal         INTEGER     NOT NULL CHECK (ordinal >= 0),
    reason          TEXT        NOT NULL,
    row_json        TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    requeued_at     TIMESTAMPTZ,
    requeue_attempts INTEGER    NOT NULL DEFAULT 0,
    -- Why the last requeue failed, if it did.
    last_error      TEXT,
    UNIQUE (batch_id, kind, ordinal)
);

-- The open ones, for the listing and the metric.
CREATE INDEX dead_letters_open ON dead_letters (kind) WHERE requeued_at IS NULL;
