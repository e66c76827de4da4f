//! Binding, variable and secret names, in one place. `wrangler.toml` declares each of them.

// KV namespaces
pub const PAGES: &str = "PAGES";

// vars
pub const ORIGIN_URL: &str = "ORIGIN_URL";
pub const PAGE_SOFT_TTL_SECONDS: &str = "PAGE_SOFT_TTL_SECONDS";
pub const PAGE_MAX_STALE_SECONDS: &str = "PAGE_MAX_STALE_SECONDS";
pub const PAGE_NOT_FOUND_TTL_SECONDS: &str = "PAGE_NOT_FOUND_TTL_SECONDS";
pub const PAGE_VARIANTS: &str = "PAGE_VARIANTS";
pub const MEMORY_CACHE_ENTRIES: &str = "MEMORY_CACHE_ENTRIES";

// secrets (`wrangler secret put`, or `.dev.vars` locally)
pub const ADMIN_TOKEN: &str = "ADMIN_TOKEN";
pub const ORIGIN_SIGNING_SECRET: &str = "ORIGIN_SIGNING_SECRET";
