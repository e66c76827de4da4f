//! The `launch-edge-origin` command line: `serve`, `migrate`, `seed-demo`.

use clap::{Parser, Subcommand};

use crate::settings::{DatabaseSettings, ServerSettings, Settings};
use crate::startup::Application;
use crate::{db, launches};

#[derive(Debug, Parser)]
#[command(
    name = "launch-edge-origin",
    version,
    about = "launch-edge origin: pages, metrics, reports"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        server: ServerSettings,
    },
    /// Apply pending migrations from origin/migrations.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Create (or refresh) the `demo-launch` launch for local development.
    SeedDemo {
        #[command(flatten)]
        database: DatabaseSettings,
    },
    /// Print a launch's report (funnel, conversion, CAC, LTV, ROI).
    Report {
        /// The launch slug.
        slug: String,
        /// One Pacific day, YYYY-MM-DD (all days when omitted).
        #[arg(long)]
        day: Option<String>,
        /// Print the same JSON as `GET /api/launches/:slug/report`.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve { database, server } => {
                let app = Application::build(Settings { database, server }).await?;
                tracing::info!(port = app.port(), "origin listening");
                app.run_until_stopped().await?;
            }
            Command::Migrate { database } => {
                let pool = db::pool(&database)?;
                db::migrate(&pool).await?;
                println!("migrations applied");
            }
            Command::SeedDemo { database } => {
                let pool = db::pool(&database)?;
                let launch_at = chrono::Utc::now() + chrono::Duration::hours(24);
                launches::upsert(&pool, &launches::demo(launch_at)).await?;
                println!("seeded launch demo-launch");
            }
            Command::Report {
                slug,
                day,
                json,
                database,
            } => {
                let pool = db::pool(&database)?;
                print!(
                    "{}",
                    report_output(&pool, &slug, day.as_deref(), json).await?
                );
            }
        }
        Ok(())
    }
}

/// What `report` prints: the table, or the API's JSON with `--json`.
pub async fn report_output(
    pool: &sqlx::PgPool,
    slug: &str,
    day: Option<&str>,
    json: bool,
) -> anyhow::Result<String> {
    let slug = launch_edge_proto::Slug::parse(slug)
        .map_err(|e| anyhow::anyhow!("invalid launch slug: {}", e.code()))?;
    let day = day
        .map(crate::ingest::parse_day)
        .transpose()
        .map_err(|_| anyhow::anyhow!("--day must be YYYY-MM-DD"))?;
    let report = match crate::reports::build(pool, &slug, day).await {
        Err(crate::error::AppError::NotFound) => anyhow::bail!("no launch {}", slug.as_str()),
        other => other?,
    };
    Ok(if json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        crate::reports::render_table(&report)
    })
}
