//! After a launch changes: ask the worker to re-render it now.
//!
//! `POST {EDGE_URL}/admin/launches/{slug}/prewarm` with `Authorization: Bearer
//! {EDGE_ADMIN_TOKEN}` makes the worker fetch every language variant from the origin and
//! overwrite its Cache API and KV copies (and its own isolate's memory). Without the two
//! settings the edge keeps serving its copy until it goes stale (the worker's soft TTL,
//! `PAGE_SOFT_TTL_SECONDS`, 60 s by default) and then revalidates in the background.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::LaunchSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshedPage {
    pub key: String,
    pub status: u16,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "edge", rename_all = "snake_case")]
pub enum EdgeRefresh {
    /// `EDGE_URL` or `EDGE_ADMIN_TOKEN` is not set.
    NotConfigured,
    Refreshed {
        pages: Vec<RefreshedPage>,
    },
    Failed {
        reason: String,
    },
}

impl fmt::Display for EdgeRefresh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConfigured => write!(
                f,
                "edge: not refreshed (EDGE_URL and EDGE_ADMIN_TOKEN are not set): the worker keeps serving its copy until it goes stale (PAGE_SOFT_TTL_SECONDS, 60 s by default), then fetches the new page. To refresh it at once, set EDGE_URL to the worker's URL and EDGE_ADMIN_TOKEN to its ADMIN_TOKEN"
            ),
            Self::Refreshed { pages } => {
                let list: Vec<String> = pages
                    .iter()
                    .map(|p| format!("{} {}", p.key, p.status))
                    .collect();
                write!(f, "edge: re-rendered {} page(s): {}", pages.len(), list.join(", "))
            }
            Self::Failed { reason } => write!(
                f,
                "edge: refresh failed ({reason}): the worker serves its copy until it goes stale"
            ),
        }
    }
}

#[derive(Deserialize)]
struct PrewarmAnswer {
    pages: Vec<RefreshedPage>,
}

/// Asks the worker to re-render `slug` (never fails: the outcome says what happened).
pub async fn refresh(settings: &LaunchSettings, slug: &str) -> EdgeRefresh {
    let (Some(url), Some(token)) = (&settings.edge_url, &settings.edge_admin_token) else {
        return EdgeRefresh::NotConfigured;
    };
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return EdgeRefresh::Failed {
                reason: e.to_string(),
            }
        }
    };
    let endpoint = format!(
        "{}/admin/launches/{slug}/prewarm",
        url.trim_end_matches('/')
    );
    let token = String::from_utf8_lossy(token.expose()).into_owned();
    let answer = client.post(&endpoint).bearer_auth(token).send().await;
    match answer {
        Err(e) => EdgeRefresh::Failed {
            reason: format!("{endpoint} unreachable: {}", without_url(&e)),
        },
        Ok(r) if !r.status().is_success() => {
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            let body: String = body.chars().take(200).collect();
            EdgeRefresh::Failed {
                reason: format!("{endpoint} answered {status}: {body}"),
            }
        }
        Ok(r) => match r.json::<PrewarmAnswer>().await {
            Ok(a) => EdgeRefresh::Refreshed { pages: a.pages },
            Err(e) => EdgeRefresh::Failed {
                reason: format!("unexpected answer from {endpoint}: {}", without_url(&e)),
            },
        },
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut text = String::from("request failed");
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}
