//! The `launch-edge-origin` command line: `serve`, `migrate`, `launch
//! apply|list|show|archive` (see [`launch`]), `seed-demo`, `report`, `preflight`,
//! `dead-letters list|requeue`.

pub mod launch;

use clap::{Parser, Subcommand};

use crate::preflight::PreflightSettings;
use crate::settings::{DatabaseSettings, LaunchSettings, ServerSettings, Settings};
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
    /// Launches as data: `apply FILE`, `list`, `show SLUG`, `archive SLUG`.
    Launch {
        #[command(subcommand)]
        action: launch::LaunchAction,
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        launches: LaunchSettings,
    },
    /// Same as `launch apply examples/demo-launch.toml` (the file is built in).
    SeedDemo {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        launches: LaunchSettings,
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
    /// Check that everything is ready for a launch: one PASS, SKIP (an optional feature
    /// not configured) or FAIL line per check, each FAIL followed by what it means and how
    /// to fix it; exits non-zero only when a check fails.
    Preflight {
        /// The launch slug.
        slug: String,
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        preflight: PreflightSettings,
    },
    /// Rows the origin kept aside instead of storing (`list`), or apply one again
    /// (`requeue ID`, once its cause is fixed).
    DeadLetters {
        #[command(subcommand)]
        action: DeadLetterAction,
        #[command(flatten)]
        database: DatabaseSettings,
    },
}

#[derive(Debug, Subcommand)]
enum DeadLetterAction {
    /// The open dead letters, newest first (one line each; `--json` for the records).
    List {
        /// Requeued ones too.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Validates and applies dead letter ID again; exits non-zero if it still fails.
    Requeue { id: i64 },
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
            Command::Launch {
                action,
                database,
                launches: settings,
            } => {
                settings.validate()?;
                let pool = db::pool(&database)?;
                let (out, ok) = launch::run(&pool, &settings, action).await?;
                print!("{out}");
                if !ok {
                    anyhow::bail!("the launch is stored, but the edge still serves its old copy");
                }
            }
            Command::SeedDemo {
                database,
                launches: settings,
            } => {
                settings.validate()?;
                let pool = db::pool(&database)?;
                let file = launches::file::LaunchFile::from_toml(launches::DEMO_FILE)?;
                let (out, ok) = launch::apply(&pool, &file, &settings, false).await?;
                print!("{out}");
                if !ok {
                    anyhow::bail!("the launch is stored, but the edge still serves its old copy");
                }
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
            Command::Preflight {
                slug,
                database,
                preflight,
            } => {
                let slug = launch_edge_proto::Slug::parse(&slug)
                    .map_err(|e| anyhow::anyhow!("invalid launch slug: {}", e.code()))?;
                let pool = db::pool(&database)?;
                let checks = crate::preflight::run(&pool, &slug, &preflight).await;
                print!("{}", preflight_output(&checks, &slug));
                let failed = checks.iter().filter(|c| !c.passed).count();
                if failed > 0 {
                    anyhow::bail!("preflight: {failed} of {} checks failed", checks.len());
                }
                let skipped = checks.iter().filter(|c| c.skipped).count();
                println!(
                    "preflight: no check failed ({} passed, {skipped} skipped)",
                    checks.len() - skipped
                );
            }
            Command::DeadLetters { action, database } => {
                let pool = db::pool(&database)?;
                print!("{}", dead_letters_output(&pool, action).await?);
            }
        }
        Ok(())
    }
}

/// What `preflight` prints before its summary: one line per check, and under each
/// `FAIL` what it means and how to fix it.
pub fn preflight_output(
    checks: &[crate::preflight::Check],
    slug: &launch_edge_proto::Slug,
) -> String {
    let mut out = String::new();
    for check in checks {
        out.push_str(&format!("{check}\n"));
        if let Some(explanation) = crate::preflight::explain(check, slug) {
            out.push_str(&format!("{explanation}\n"));
        }
    }
    out
}

/// What `dead-letters` prints.
async fn dead_letters_output(
    pool: &sqlx::PgPool,
    action: DeadLetterAction,
) -> anyhow::Result<String> {
    use crate::ingest::dead_letters;
    match action {
        DeadLetterAction::List { all, json } => {
            let (letters, open) = dead_letters::list(pool, all).await?;
            if json {
                let body = serde_json::json!({ "open": open, "dead_letters": letters });
                return Ok(format!("{}\n", serde_json::to_string_pretty(&body)?));
            }
            let mut out = format!("{open} open dead letter(s)\n");
            for d in letters {
                let state = if d.requeued_at_ms.is_some() {
                    "requeued"
                } else {
                    "open"
                };
                let excerpt: String = d.row.chars().take(120).collect();
                out.push_str(&format!(
                    "{}\t{state}\t{}\t{}\tbatch {}\t{excerpt}\n",
                    d.id, d.kind, d.reason, d.batch_id
                ));
            }
            Ok(out)
        }
        DeadLetterAction::Requeue { id } => match dead_letters::requeue(pool, id).await {
            Ok(d) => Ok(format!(
                "requeued dead letter {} ({} from batch {})\n",
                d.id, d.kind, d.batch_id
            )),
            Err(e) => Err(anyhow::anyhow!("{e}")),
        },
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
