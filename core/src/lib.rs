//! launch-edge-core: everything the edge worker decides, with no `worker` types, so all
//! of it is tested natively with `cargo test -p launch-edge-core` (the worker crate in
//! `src/` is the WASM glue that calls it; `scripts/test.sh` fails if this crate ever
//! depends on `worker`).
//!
//! Layout, in the order a request meets it:
//! - [`config`]: typed settings from a lookup function ([`config::error`] names what was
//!   refused); [`bindings`] names every binding, var and secret of `wrangler.toml`.
//! - [`page`]: the cache key of a request, a cached page's freshness and ETag, the list
//!   of known launches; [`bounded_map`] bounds the isolate's memory cache.
//! - [`visit`]: a visit's source (ref, utm, Referer), bot traffic, the visitor hash.
//! - [`count`]: the beacon and signed conversions strangers send, which pages may send
//!   them, an isolate's counting lanes, and a counter shard's exact state and batches.
//! - [`pacific`]: the Pacific-time launch day; [`cron_plan`]: what each Cron Trigger does
//!   at an instant.
//! - [`drain`]: how an object's drain to the origin reads the origin's answers and sets
//!   refused batches aside.
//! - [`webhooks`]: verification (Standard Webhooks, Stripe, Product Hunt) and what each
//!   event means; [`recent_ids`] remembers delivered ids for the dedupe window.
//! - [`outbound`]: engagement tasks: validation, budgets, backoff, rate-limit headers,
//!   Product Hunt GraphQL, milestones, and their settings.
//! - [`scale`]: how cost grows, a model of a launch at internet scale from measured
//!   per-request costs and the batching constants (`docs/scaling.md`).
//! - [`tally`]: worker counters aggregated in the isolate; [`body_limit`] reads
//!   untrusted bodies with a running byte limit; [`poll`]: how often a request looks for
//!   what another request of its isolate hands it.
//!
//! Tests: each module's unit tests are its child module `tests`, inline at the end of
//! the file or, when long, in `<module>/tests.rs` (or `<module>/tests/`).

pub mod bindings;
pub mod body_limit;
pub mod bounded_map;
pub mod config;
pub mod count;
pub mod cron_plan;
pub mod drain;
pub mod outbound;
pub mod pacific;
pub mod page;
pub mod poll;
pub mod recent_ids;
pub mod scale;
pub mod tally;
pub mod visit;
pub mod webhooks;
