//! launch-edge origin: renders launch pages, stores metrics, reports.
//!
//! Layout:
//! - [`settings`]: typed configuration from the environment, parsed once.
//! - [`startup`]: [`startup::Application`] binds the listener (port 0 in tests) and runs.
//! - [`db`]: the bounded Postgres pool and migrations (`origin/migrations`).
//! - [`auth`]: verification of the worker's signed internal requests.
//! - [`launches`]: the launch model and its queries.
//! - [`routes`]: HTTP handlers, one module per area.
//! - [`error`]: the crate's error type, mapped to HTTP once.
//! - [`cli`]: the subcommands `main.rs` wires (`serve`, `migrate`, `seed-demo`).

pub mod auth;
pub mod cli;
pub mod db;
pub mod error;
pub mod launches;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod telemetry;
