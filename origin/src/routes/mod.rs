//! HTTP handlers, one module per area. [`crate::startup`] assembles them into the router.

pub mod health;
pub mod metrics;
pub mod render;
