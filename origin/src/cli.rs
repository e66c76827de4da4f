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
        }
        Ok(())
    }
}
