//! launch-edge origin: renders launch pages, stores metrics, reports.
//!
//! Layout:
//! - [`settings`]: typed configuration from the environment, parsed once.
//! - [`startup`]: [`startup::Application`] binds the listener (port 0 in tests) and runs.
//! - [`state`]: [`state::AppState`], what every handler shares, and its [`state::Clock`].
//! - [`db`]: the bounded Postgres pool and migrations (`origin/migrations`).
//! - [`auth`]: verification of the worker's signed internal requests.
//! - [`launches`]: launches as data: the launch file, validation, storage, diff, page.
//! - [`routes`]: HTTP handlers, one module per area.
//! - [`error`]: the crate's error type, mapped to HTTP once.
//! - [`cli`]: the subcommands `main.rs` wires (`serve`, `migrate`, `launch apply|list|show|archive`, ...).
//! - `report` subcommand: prints [`reports::Report`] as a table or JSON.
//! - [`ingest`]: validating and applying the worker's batches, exactly once per batch id.
//! - [`daily`]: finalizing a Pacific day into `daily_summaries`.
//! - [`reports`]: the typed launch report (funnel, conversion, CAC, LTV, ROI) and its table.
//! - [`dashboard`]: the launch dashboard and index pages (server-side SVG charts).
//! - [`request_id`]: the `x-request-id` carried from the worker into logs and responses.
//! - [`preflight`]: the launch runbook's `preflight <slug>` checks.
//! - [`metrics`]: the Prometheus registry, its collectors and the HTTP metrics middleware;
//!   [`routes::metrics`] serves it at `/metrics`.

pub mod auth;
pub mod cli;
pub mod daily;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod ingest;
pub mod launches;
pub mod metrics;
pub mod preflight;
pub mod reports;
pub mod request_id;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
