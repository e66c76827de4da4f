//! Origin integration tests: each test spawns the app on port 0 with its own database in
//! the private Postgres cluster (`TEST_DATABASE_URL`, set by scripts/test.sh).

mod currency;
mod dashboard;
mod dead_letters;
mod helpers;
mod ingest;
mod launch_helpers;
mod launch_validation;
mod launches;
mod limits;
mod metrics;
mod migrations;
mod preflight;
mod render;
mod replicas;
mod reports;
mod rotation;
