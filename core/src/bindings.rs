//! Binding, variable and secret names, in one place. `wrangler.toml` declares each of them.

// KV namespaces
pub const PAGES: &str = "PAGES";

// Durable Objects (class names match `wrangler.toml`)
pub const COUNTER_SHARD: &str = "COUNTER_SHARD";
/// Webhook dedupe and hand-off (`webhook_inbox`).
pub const WEBHOOK_INBOX: &str = "WEBHOOK_INBOX";
pub const TASK_SCHEDULER: &str = "TASK_SCHEDULER";

// Rate limiting (`[[ratelimits]]`)
pub const EVENTS_LIMITER: &str = "EVENTS_LIMITER";

// vars
pub const ORIGIN_URL: &str = "ORIGIN_URL";
pub const PAGE_SOFT_TTL_SECONDS: &str = "PAGE_SOFT_TTL_SECONDS";
pub const PAGE_MAX_STALE_SECONDS: &str = "PAGE_MAX_STALE_SECONDS";
pub const PAGE_NOT_FOUND_TTL_SECONDS: &str = "PAGE_NOT_FOUND_TTL_SECONDS";
pub const PAGE_VARIANTS: &str = "PAGE_VARIANTS";
pub const MEMORY_CACHE_ENTRIES: &str = "MEMORY_CACHE_ENTRIES";
pub const COUNTER_SHARDS: &str = "COUNTER_SHARDS";
/// `true` only under wrangler dev, the tests and `scripts/dev.sh`: allows an http or
/// loopback `ORIGIN_URL` (see `config`). Declared empty in `wrangler.toml`.
pub const LOCAL_DEVELOPMENT: &str = "LOCAL_DEVELOPMENT";
/// `enabled`: a visit's bot verdict also reads Cloudflare Bot Management's score from
/// `request.cf` (see `config::Config::bot_management`). Declared `disabled` in `wrangler.toml`.
pub const BOT_MANAGEMENT: &str = "BOT_MANAGEMENT";
/// Tests only; absent in `wrangler.toml` (see `counting::TEST_NOW_HEADER`).
pub const TEST_CLIENT_CLOCK: &str = "TEST_CLIENT_CLOCK";
/// Tests only; absent in `wrangler.toml`: enables `/admin/test/...` (see `test_hooks`).
pub const TEST_HOOKS: &str = "TEST_HOOKS";
/// `name=scheme;...` (see `webhooks::sources`); each source's secrets are the secret
/// `WEBHOOK_SECRETS_<NAME>` (`webhooks::sources::secrets_var`).
pub const WEBHOOK_SOURCES: &str = crate::webhooks::sources::SOURCES_VAR;
// outbound tasks and the launch monitor (all optional, see `outbound::settings`)
pub const WEBHOOK_ALLOWLIST: &str = "WEBHOOK_ALLOWLIST";
pub const PRODUCT_HUNT_API_URL: &str = "PRODUCT_HUNT_API_URL";
pub const TASK_MAX_ATTEMPTS: &str = "TASK_MAX_ATTEMPTS";
pub const TASK_BACKOFF_BASE_MS: &str = "TASK_BACKOFF_BASE_MS";
pub const TASK_BACKOFF_CAP_MS: &str = "TASK_BACKOFF_CAP_MS";
pub const TASK_TIMEOUT_MS: &str = "TASK_TIMEOUT_MS";
pub const MONITOR_LAUNCHES: &str = "MONITOR_LAUNCHES";
pub const MONITOR_MILESTONES: &str = "MONITOR_MILESTONES";
pub const MONITOR_ALERT_WEBHOOK: &str = "MONITOR_ALERT_WEBHOOK";
pub const MONITOR_INTERVAL_SECONDS: &str = "MONITOR_INTERVAL_SECONDS";

// secrets (`wrangler secret put`, or `.dev.vars` locally)
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
/// The previous admin token, only during a rotation: still accepted (optional).
pub const ADMIN_TOKEN_PREVIOUS: &str = "ADMIN_TOKEN_PREVIOUS";
pub const ORIGIN_SIGNING_SECRET: &str = "ORIGIN_SIGNING_SECRET";
/// Keys the daily unique-visitor salt (see `visitors`).
pub const VISITOR_SALT_SECRET: &str = "VISITOR_SALT_SECRET";
/// Keys every launch's signed conversions (see `conversions`); optional: without it
/// `POST /launch/:slug/conversions` answers 500 `misconfigured`.
pub const CONVERSIONS_SECRET: &str = "CONVERSIONS_SECRET";
/// Product Hunt API token (optional: without it `ph_graphql` tasks dead-letter).
pub const PRODUCT_HUNT_TOKEN: &str = "PRODUCT_HUNT_TOKEN";
