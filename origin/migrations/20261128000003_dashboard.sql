-- Dashboard data that is not a launch counter: Product Hunt post stats and the edge
-- worker's own operational counters.

-- Product Hunt post stats over time, one row per observation by the launch monitor (a
-- worker cron reading the GraphQL API within its budget). The dashboard charts votes and
-- comments and derives the vote velocity from consecutive observations.
CREATE TABLE ph_post_stats (
    launch      TEXT        NOT NULL,
    observed_at TIMESTAMPTZ NOT NULL,
    votes       INTEGER     NOT NULL CHECK (votes >= 0),
    comments    INTEGER     NOT NULL CHECK (comments >= 0),
    -- When Product Hunt featured the post, once it has been (null before that).
    featured_at TIMESTAMPTZ,
    PRIMARY KEY (launch, observed_at)
);

-- The worker's operational counters, per Pacific day: cache_hit, cache_miss, cache_stale,
-- origin_fetch, webhook_rejected.<reason>, outbound_429, task_retry, task_dead_letter...
--
-- Transport: NO new wire type. The worker sends them in the ordinary ingest batch as
-- `CounterDelta` rows whose metric is the counter name prefixed with `edge_`
-- (`edge_cache_hit`, `edge_webhook_rejected.signature_mismatch`; the metric charset is
-- [a-z0-9_.-], so a reason is joined with a dot, not a colon). The origin routes every
-- `edge_` row here, inside the same exactly-once transaction as the rest of the batch,
-- and never into metrics_minute / metrics_day, where an unknown metric name would count
-- as a conversion. `launch` is the launch slug for per-launch counters (cache results of
-- a launch page) or the empty string for worker-wide counters (task retries, dead
-- letters, webhook rejections); `source` and `minute` of such rows are ignored.
CREATE TABLE edge_counters (
    launch TEXT   NOT NULL DEFAULT '',
    day    DATE   NOT NULL,
    -- Without the `edge_` prefix, e.g. `cache_hit`.
    name   TEXT   NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    value  BIGINT NOT NULL CHECK (value >= 0),
    PRIMARY KEY (launch, day, name)
);
