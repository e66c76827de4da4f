-- Ingest: the counters the worker drains in batches, applied exactly once per batch id.
--
-- The metric and sketch tables deliberately have NO foreign key to `launches`. The worker
-- counts whatever launch it serves (a launch row may be created after counting started,
-- or renamed/removed while deltas are still draining). A foreign key would turn such a
-- batch into a permanent failure, and an exactly-once pipeline that cannot drop a batch
-- would then retry it forever and block every later batch of that shard. Rows for
-- unknown launches are kept (nothing acknowledged is lost) and simply appear in no
-- report until the launch exists. Reports and daily summaries join on `launches`.

-- Batch ids already applied. Inserting the id is the first statement of the ingest
-- transaction, so the primary key serialises two racing copies of the same batch.
CREATE TABLE ingested_batches (
    batch_id   TEXT PRIMARY KEY CHECK (length(batch_id) BETWEEN 1 AND 200),
    shard      TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Counter, sketch and webhook rows the batch carried (for audits and benchmarks).
    rows       INTEGER NOT NULL CHECK (rows >= 0)
);

-- Per UTC minute (the start of the minute), per source and metric.
CREATE TABLE metrics_minute (
    launch TEXT        NOT NULL,
    minute TIMESTAMPTZ NOT NULL,
    source TEXT        NOT NULL,
    metric TEXT        NOT NULL,
    value  BIGINT      NOT NULL CHECK (value >= 0),
    PRIMARY KEY (launch, minute, source, metric)
);

-- Per Pacific launch day (America/Los_Angeles), per source and metric.
CREATE TABLE metrics_day (
    launch TEXT   NOT NULL,
    day    DATE   NOT NULL,
    source TEXT   NOT NULL,
    metric TEXT   NOT NULL,
    value  BIGINT NOT NULL CHECK (value >= 0),
    PRIMARY KEY (launch, day, source, metric)
);

-- One merged unique-visitor sketch per launch and Pacific day
-- (`launch_edge_proto::uniques` serialization). Salts rotate daily, so sketches of
-- different days are never merged with each other.
CREATE TABLE visitor_sketches (
    launch     TEXT        NOT NULL,
    day        DATE        NOT NULL,
    sketch     BYTEA       NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (launch, day)
);

-- Verified webhook events, stored once per (source, event id).
CREATE TABLE webhook_events (
    source      TEXT        NOT NULL,
    event_id    TEXT        NOT NULL,
    event_type  TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    payload     JSONB       NOT NULL,
    stored_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);

-- The summary of a finished Pacific day, written by `POST /ingest/finalize-day`.
-- Only launches that exist are summarised, so a foreign key is safe here.
CREATE TABLE daily_summaries (
    launch          TEXT        NOT NULL REFERENCES launches (slug) ON DELETE CASCADE ON UPDATE CASCADE,
    day             DATE        NOT NULL,
    views           BIGINT      NOT NULL,
    bot_views       BIGINT      NOT NULL,
    unique_visitors BIGINT      NOT NULL,
    clicks          BIGINT      NOT NULL,
    conversions     BIGINT      NOT NULL,
    revenue_cents   BIGINT      NOT NULL,
    -- The first finalization time; a re-run refreshes the figures but keeps this.
    finalized_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (launch, day)
);
