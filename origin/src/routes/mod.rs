//! HTTP handlers, one module per area. [`crate::startup`] assembles them into the router.

pub mod admin_launches;
pub mod dashboard;
pub mod health;
pub mod ingest;
pub mod internal;
pub mod metrics;
pub mod render;
pub mod reports;
