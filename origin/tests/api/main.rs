//! Origin integration tests: each test spawns the app on port 0 with its own database in
//! the private Postgres cluster (`TEST_DATABASE_URL`, set by scripts/test.sh).

mod currency;
mod dashboard;
mod helpers;
mod ingest;
mod metrics;
mod migrations;
mod preflight;
mod render;
mod reports;
