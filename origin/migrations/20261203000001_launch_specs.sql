-- Launches as data (`launch apply launch.toml`): the canonical launch file is stored whole
-- in `spec`; the columns below are written from it in the same statement. The older
-- columns keep their meaning for reports: spend_cents is the sum of spend_by_channel,
-- ltv_cents the file's expected_ltv, currency its ISO 4217 code.
ALTER TABLE launches
    ADD COLUMN spec JSONB CHECK (spec IS NULL OR jsonb_typeof(spec) = 'object'),
    -- producthunt.com/posts/<product_hunt_slug>: one live launch per post (no renames).
    ADD COLUMN product_hunt_slug TEXT
        CHECK (product_hunt_slug IS NULL OR product_hunt_slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    -- Spend per channel in minor units of `currency`, e.g. {"producthunt_ads": 30000}.
    ADD COLUMN spend_by_channel JSONB NOT NULL DEFAULT '{}'::jsonb
        CHECK (jsonb_typeof(spend_by_channel) = 'object'),
    -- Days of revenue after the launch that stand for a customer's value (instead of ltv_cents).
    ADD COLUMN revenue_window_days INTEGER CHECK (revenue_window_days BETWEEN 1 AND 365),
    -- https origins allowed to send beacon events for this launch (CORS).
    ADD COLUMN beacon_origins TEXT[] NOT NULL DEFAULT '{}',
    -- Archived: the page answers 404 and the worker's crons skip it; counts and reports stay.
    ADD COLUMN archived_at TIMESTAMPTZ;

-- Rows from before: the post slug from product_hunt_url, for the oldest launch of each post
-- (two live launches of one post cannot both hold it).
UPDATE launches l SET product_hunt_slug = p.post
  FROM (SELECT DISTINCT ON (post) slug, post
          FROM (SELECT slug, created_at,
                       substring(product_hunt_url FROM 'producthunt\.com/posts/([a-z0-9]+(?:-[a-z0-9]+)*)/?$') AS post
                  FROM launches) candidates
         WHERE post IS NOT NULL
         ORDER BY post, created_at, slug) p
 WHERE l.slug = p.slug;

CREATE UNIQUE INDEX launches_live_product_hunt_slug
    ON launches (product_hunt_slug) WHERE archived_at IS NULL;
