//! `launch apply FILE | list | show SLUG | archive SLUG`: launches as data, from a terminal.

use std::path::Path;

use clap::Subcommand;
use launch_edge_proto::Slug;
use sqlx::PgPool;

use crate::launches::file::LaunchFile;
use crate::launches::spec::SpecErrors;
use crate::launches::{self, edge, store, ApplyFailure};
use crate::settings::LaunchSettings;

#[derive(Debug, Subcommand)]
pub enum LaunchAction {
    /// Validate FILE (launch.toml) and store it in one transaction; prints what changed
    /// and asks the worker to re-render the page (EDGE_URL, EDGE_ADMIN_TOKEN).
    Apply {
        file: std::path::PathBuf,
        /// Bring an archived launch back (its page is served again).
        #[arg(long)]
        unarchive: bool,
    },
    /// Every launch: slug, name, launch time (Pacific), live or archived.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The stored launch file, as TOML (apply it again and nothing changes).
    Show { slug: String },
    /// The page answers 404 from now on; counts and reports are kept.
    Archive { slug: String },
}

/// What the command prints, and whether it succeeded (an edge refresh that failed after
/// the launch was stored prints the outcome and fails).
pub async fn run(
    pool: &PgPool,
    settings: &LaunchSettings,
    action: LaunchAction,
) -> anyhow::Result<(String, bool)> {
    match action {
        LaunchAction::Apply { file, unarchive } => {
            let file = read_file(&file)?;
            apply(pool, &file, settings, unarchive).await
        }
        LaunchAction::List { json } => {
            let launches = store::list(pool).await?;
            if json {
                return Ok((
                    format!("{}\n", serde_json::to_string_pretty(&launches)?),
                    true,
                ));
            }
            let mut out = format!("{} launch(es)\n", launches.len());
            for l in launches {
                let pacific = l.launch_at.with_timezone(&chrono_tz::America::Los_Angeles);
                let state = match l.archived_at {
                    Some(at) => format!("archived {}", at.format("%Y-%m-%d")),
                    None => "live".into(),
                };
                out.push_str(&format!(
                    "{}\t{}\t{}\t{state}\n",
                    l.slug,
                    pacific.format("%Y-%m-%d %H:%M %Z"),
                    l.name
                ));
            }
            Ok((out, true))
        }
        LaunchAction::Show { slug } => {
            let slug = parse_slug(&slug)?;
            let stored = launches::store::load(pool, &slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no launch {}", slug.as_str()))?;
            let mut out = String::new();
            if let Some(at) = stored.archived_at {
                out.push_str(&format!(
                    "# archived since {} (apply with --unarchive to bring it back)\n",
                    at.to_rfc3339()
                ));
            }
            out.push_str(&stored.spec.to_file().to_toml());
            if !out.ends_with('\n') {
                out.push('\n');
            }
            Ok((out, true))
        }
        LaunchAction::Archive { slug } => {
            let slug = parse_slug(&slug)?;
            let archived = store::archive(pool, &slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no launch {}", slug.as_str()))?;
            let mut out = if archived.already {
                format!(
                    "launch {} was already archived (since {}): nothing changed\n",
                    archived.slug,
                    archived.archived_at.to_rfc3339()
                )
            } else {
                format!(
                    "launch {} archived: its page answers 404 from now on; its counts and reports are kept\n",
                    archived.slug
                )
            };
            if archived.already {
                return Ok((out, true));
            }
            let refreshed = edge::refresh(settings, slug.as_str()).await;
            out.push_str(&format!("{refreshed}\n"));
            Ok((out, !matches!(refreshed, edge::EdgeRefresh::Failed { .. })))
        }
    }
}

fn parse_slug(raw: &str) -> anyhow::Result<Slug> {
    Slug::parse(raw).map_err(|e| anyhow::anyhow!("invalid launch slug: {}", e.code()))
}

/// Reads a launch file; a `template = "path"` is read too (relative to the file) and
/// carried as `template_html`.
pub fn read_file(path: &Path) -> anyhow::Result<LaunchFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let mut file =
        LaunchFile::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let (Some(template), None) = (&file.template, &file.template_html) {
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let template_path = base.join(template);
        let html = std::fs::read_to_string(&template_path).map_err(|e| {
            anyhow::anyhow!(
                "{}: template: cannot read {}: {e}",
                path.display(),
                template_path.display()
            )
        })?;
        file.template = None;
        file.template_html = Some(html);
    }
    Ok(file)
}

/// Applies a parsed file and says what happened.
pub async fn apply(
    pool: &PgPool,
    file: &LaunchFile,
    settings: &LaunchSettings,
    unarchive: bool,
) -> anyhow::Result<(String, bool)> {
    match launches::apply(pool, file, settings, unarchive).await {
        Ok((applied, refreshed)) => {
            let mut out = applied.report();
            let ok = match refreshed {
                Some(r) => {
                    out.push_str(&format!("{r}\n"));
                    !matches!(r, edge::EdgeRefresh::Failed { .. })
                }
                None => true,
            };
            Ok((out, ok))
        }
        Err(ApplyFailure::Invalid(SpecErrors(errors))) => {
            let mut out = format!(
                "the launch file has {} problem(s); nothing was written:\n",
                errors.len()
            );
            for e in errors {
                out.push_str(&format!("  {e}\n"));
            }
            anyhow::bail!(out.trim_end().to_owned())
        }
        Err(e) => anyhow::bail!("{e}; nothing was written"),
    }
}
