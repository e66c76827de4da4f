//! Types and rules shared by the edge worker and the origin, defined once.
//!
//! - [`slug`]: the validated launch slug that names a launch everywhere.
//! - [`secret`]: a redacted secret type (never printed by `Debug` or `Display`).
//! - [`batch`]: the ingest batch, its size limits and ids, and dead-letter records.
//! - [`signing`]: HMAC-SHA256 signatures on internal worker → origin requests, and on
//!   the origin's answers to them.
//! - [`headers`]: header names both sides agree on.
//! - [`uniques`]: the unique-visitor HyperLogLog sketch and its stable byte format.
//!
//! Nothing here touches the network, the clock or randomness: callers pass `now` in.

pub mod batch;
pub mod headers;
pub mod secret;
pub mod signing;
pub mod slug;
pub mod uniques;

pub use secret::{Secret, MIN_SECRET_BYTES};
pub use slug::{Slug, SlugError};
