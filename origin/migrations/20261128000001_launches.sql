-- Launches: what the origin renders and what reports are computed against.
CREATE TABLE launches (
    slug                   TEXT PRIMARY KEY
                           CHECK (length(slug) <= 64 AND slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    name                   TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    tagline                TEXT NOT NULL DEFAULT '',
    description            TEXT NOT NULL DEFAULT '',
    -- The Product Hunt launch time (launch day is the Pacific day containing it).
    launch_at              TIMESTAMPTZ NOT NULL,
    -- Call-to-action destinations by name, e.g. {"signup": "https://example.com/signup"}.
    -- The worker's click redirect only ever sends visitors to one of these.
    destinations           JSONB NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(destinations) = 'object'),
    product_hunt_url       TEXT,
    -- Money figures for CAC / LTV / ROI, in minor units of `currency`.
    spend_cents            BIGINT NOT NULL DEFAULT 0 CHECK (spend_cents >= 0),
    cost_per_visitor_cents BIGINT CHECK (cost_per_visitor_cents >= 0),
    ltv_cents              BIGINT CHECK (ltv_cents >= 0),
    currency               TEXT NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);
