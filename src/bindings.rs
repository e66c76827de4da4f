//! Binding, variable and secret names, in one place. `wrangler.toml` declares each of them.

// KV namespaces
pub const PAGES: &str = "PAGES";

// Durable Objects (class names match `wrangler.toml`)
pub const COUNTER_SHARD: &str = "COUNTER_SHARD";

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

// secrets (`wrangler secret put`, or `.dev.vars` locally)
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
pub const ORIGIN_SIGNING_SECRET: &str = "ORIGIN_SIGNING_SECRET";
/// Keys the daily unique-visitor salt (see `visitors`).
pub const VISITOR_SALT_SECRET: &str = "VISITOR_SALT_SECRET";
