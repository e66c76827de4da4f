//! `preflight <slug>`: the launch runbook's checks, one PASS, SKIP or FAIL line each.
//!
//! Checks, in order: Postgres reachable; every migration applied; the launch configured
//! (launch time, destinations, money figures); the worker reachable with its secrets set
//! (`GET /admin/health`, bearer `ADMIN_TOKEN`, also signed when `ORIGIN_SIGNING_SECRET`
//! is set; a worker that refused its configuration says which setting and why, and a
//! deployed one must not run with `LOCAL_DEVELOPMENT`); the page pre-warmed in KV
//! (`GET /admin/pages`); the Product Hunt token valid and its budget (one tiny GraphQL query, reading the rate-limit headers); the community
//! webhooks allowlisted. A check that cannot run because an earlier one failed fails too,
//! saying why, so the list always has the same lines. An optional feature that is not
//! configured (no `PRODUCT_HUNT_TOKEN`, no `COMMUNITY_WEBHOOKS`) is `SKIP`, not `FAIL`.
//! Every `FAIL` comes with what it means for the launch and how to fix it
//! ([`explain`]). No secret is ever printed.

mod explain;
mod health;
mod webhooks;

pub use explain::{explain, Explanation};

use health::{is_local, Health, Misconfigured};

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;
use launch_edge_proto::signing::SignedRequest;
use launch_edge_proto::{headers, Secret, Slug};
use serde::Deserialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::launches::{self, Launch};

pub const DEFAULT_PRODUCT_HUNT_API_URL: &str = "https://api.producthunt.com/v2/api/graphql";

fn secret(raw: &str) -> Result<Secret, String> {
    Ok(Secret::new(raw))
}

#[derive(Debug, Clone, Args)]
pub struct PreflightSettings {
    /// The deployed worker, e.g. https://launch.example.com.
    #[arg(long, env = "WORKER_URL")]
    pub worker_url: Option<String>,
    /// The worker's admin bearer token.
    #[arg(long, env = "ADMIN_TOKEN", value_parser = secret, hide_env_values = true)]
    pub admin_token: Option<Secret>,
    /// When set, the health call is also signed like the worker's own origin requests.
    #[arg(long, env = "ORIGIN_SIGNING_SECRET", value_parser = secret, hide_env_values = true)]
    pub signing_secret: Option<Secret>,
    #[arg(long, env = "PRODUCT_HUNT_API_URL", default_value = DEFAULT_PRODUCT_HUNT_API_URL)]
    pub product_hunt_api_url: String,
    #[arg(long, env = "PRODUCT_HUNT_TOKEN", value_parser = secret, hide_env_values = true)]
    pub product_hunt_token: Option<Secret>,
    /// Complexity points the launch monitor needs left in the current window.
    #[arg(long, env = "PREFLIGHT_MIN_PH_BUDGET", default_value_t = 500)]
    pub min_product_hunt_budget: i64,
    /// Community webhook URLs (comma or whitespace separated), as configured on the worker.
    #[arg(
        long,
        env = "COMMUNITY_WEBHOOKS",
        default_value = "",
        hide_env_values = true
    )]
    pub community_webhooks: String,
    /// The worker's webhook host allowlist (same syntax as the worker's).
    #[arg(long, env = "WEBHOOK_ALLOWLIST", default_value = "")]
    pub webhook_allowlist: String,
    /// Per-call timeout for the worker and Product Hunt.
    #[arg(long, env = "PREFLIGHT_TIMEOUT_SECS", default_value_t = 10)]
    pub timeout_secs: u64,
}

/// One line of the preflight report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// Not a failure: `PASS`, or `SKIP` when [`Check::skipped`] is set too.
    pub passed: bool,
    /// An optional feature that is not configured: nothing to check, nothing wrong.
    pub skipped: bool,
    pub detail: String,
}

impl Check {
    /// `PASS`, `SKIP` or `FAIL`.
    pub fn verdict(&self) -> &'static str {
        match (self.passed, self.skipped) {
            (true, false) => "PASS",
            (true, true) => "SKIP",
            (false, _) => "FAIL",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {:<22} {}", self.verdict(), self.name, self.detail)
    }
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed: true,
        skipped: false,
        detail: detail.into(),
    }
}

fn skip(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed: true,
        skipped: true,
        detail: detail.into(),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        passed: false,
        skipped: false,
        detail: detail.into(),
    }
}

/// Runs every check for `slug`; the caller prints them and sets the exit status.
pub async fn run(pool: &PgPool, slug: &Slug, settings: &PreflightSettings) -> Vec<Check> {
    let mut checks = Vec::new();
    let reachable = sqlx::query("SELECT 1").execute(pool).await.is_ok();
    checks.push(if reachable {
        pass("postgres", "reachable")
    } else {
        fail(
            "postgres",
            "unreachable (check DATABASE_URL and that Postgres is up)",
        )
    });
    if reachable {
        checks.push(migrations(pool).await);
        checks.extend(launch_checks(
            launches::find(pool, slug).await.ok().flatten(),
            Utc::now(),
        ));
    } else {
        let why = "not checked: Postgres unreachable";
        for name in ["migrations", "launch", "destinations", "money"] {
            checks.push(fail(name, why));
        }
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client with default TLS settings builds");
    checks.extend(worker_checks(&http, slug, settings).await);
    checks.extend(product_hunt_checks(&http, settings).await);
    checks.push(webhook_check(settings));
    checks
}

async fn migrations(pool: &PgPool) -> Check {
    let expected: BTreeSet<i64> = crate::db::MIGRATOR.iter().map(|m| m.version).collect();
    let applied: BTreeSet<i64> =
        sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await
            .unwrap_or_default()
            .into_iter()
            .collect();
    let missing: Vec<String> = expected.difference(&applied).map(i64::to_string).collect();
    if missing.is_empty() {
        pass(
            "migrations",
            format!("{}/{} applied", expected.len(), expected.len()),
        )
    } else {
        fail(
            "migrations",
            format!(
                "{} pending ({}): run `launch-edge-origin migrate`",
                missing.len(),
                missing.join(", ")
            ),
        )
    }
}

/// The launch, destinations and money lines. Pure (takes `now`).
pub fn launch_checks(launch: Option<Launch>, now: DateTime<Utc>) -> Vec<Check> {
    let Some(l) = launch else {
        let why = "not checked: no such launch";
        return vec![
            fail(
                "launch",
                "no such launch (create it with `launch apply launch.toml`; see examples/)",
            ),
            fail("destinations", why),
            fail("money", why),
        ];
    };
    let hours = (l.launch_at - now).num_minutes() as f64 / 60.0;
    let when = if hours >= 0.0 {
        format!("T-{hours:.1} h")
    } else {
        format!("T+{:.1} h", -hours)
    };
    let launch = pass(
        "launch",
        format!(
            "{} at {} ({when})",
            l.name,
            l.launch_at.format("%Y-%m-%d %H:%M UTC")
        ),
    );
    let bad: Vec<&str> = l
        .destinations
        .0
        .iter()
        .filter(|(_, url)| {
            reqwest::Url::parse(url).map_or(true, |u| !matches!(u.scheme(), "https" | "http"))
        })
        .map(|(name, _)| name.as_str())
        .collect();
    let names: Vec<&str> = l.destinations.0.keys().map(String::as_str).collect();
    let destinations = if names.is_empty() {
        fail(
            "destinations",
            "none configured: clicks would have nowhere to go",
        )
    } else if !bad.is_empty() {
        fail(
            "destinations",
            format!("not absolute http(s) URLs: {}", bad.join(", ")),
        )
    } else {
        pass(
            "destinations",
            format!("{}: {}", names.len(), names.join(", ")),
        )
    };
    let mut missing = Vec::new();
    if l.spend_cents == 0 && l.cost_per_visitor_cents.is_none() {
        missing.push("spend or cost per visitor");
    }
    if l.ltv_cents.is_none() {
        missing.push("LTV");
    }
    let money = if missing.is_empty() {
        let spend = match l.cost_per_visitor_cents {
            Some(c) => format!("{c} {} per visitor", l.currency),
            None => format!("spend {} {}", l.spend_cents, l.currency),
        };
        let ltv = l.ltv_cents.unwrap_or_default();
        pass("money", format!("{spend} (minor units), LTV {ltv}"))
    } else {
        fail(
            "money",
            format!(
                "missing {} (CAC / ROI would be blank)",
                missing.join(" and ")
            ),
        )
    };
    vec![launch, destinations, money]
}

#[derive(Debug, Deserialize)]
struct Pages {
    keys: Vec<String>,
}

async fn admin_get(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    settings: &PreflightSettings,
    token: &Secret,
) -> Result<reqwest::Response, String> {
    let mut request = http
        .get(format!("{}{path}", base.trim_end_matches('/')))
        .bearer_auth(String::from_utf8_lossy(token.expose()))
        .header(
            headers::REQUEST_ID,
            format!("preflight-{}", uuid::Uuid::new_v4().simple()),
        );
    if let Some(key) = &settings.signing_secret {
        let now = Utc::now().timestamp();
        let signature = SignedRequest {
            method: "GET",
            path_and_query: path,
            body: b"",
        }
        .sign(key, now);
        request = request
            .header(headers::TIMESTAMP, now.to_string())
            .header(headers::SIGNATURE, signature);
    }
    // reqwest's error text names the URL, never the headers, so it carries no secret.
    request
        .send()
        .await
        .map_err(|e| format!("unreachable: {e}"))
}

async fn worker_checks(
    http: &reqwest::Client,
    slug: &Slug,
    settings: &PreflightSettings,
) -> Vec<Check> {
    let (Some(base), Some(token)) = (&settings.worker_url, &settings.admin_token) else {
        let why = "not checked: set WORKER_URL and ADMIN_TOKEN";
        return vec![
            fail("worker", why),
            fail("worker_secrets", why),
            fail("page_prewarmed", why),
        ];
    };
    let mut checks = Vec::new();
    match admin_get(http, base, "/admin/health", settings, token).await {
        Err(e) => {
            checks.push(fail("worker", e));
            checks.push(fail("worker_secrets", "not checked: worker unreachable"));
        }
        Ok(r) if r.status() != 200 => {
            let status = r.status().as_u16();
            let hint = match (status, r.json::<Misconfigured>().await) {
                (401, _) => " (ADMIN_TOKEN refused)".to_owned(),
                (_, Ok(m)) => format!(": the worker is misconfigured: {}", m.problem),
                _ => String::new(),
            };
            checks.push(fail(
                "worker",
                format!("/admin/health answered {status}{hint}"),
            ));
            checks.push(fail("worker_secrets", "not checked: no health answer"));
        }
        Ok(r) => match r.json::<Health>().await {
            Err(_) => {
                checks.push(fail(
                    "worker",
                    "/admin/health answered with unexpected JSON",
                ));
                checks.push(fail("worker_secrets", "not checked: no health answer"));
            }
            Ok(h) => {
                checks.push(if !h.ok {
                    fail("worker", "/admin/health says ok: false")
                } else if h.local_development && !is_local(base) {
                    fail(
                        "worker",
                        "LOCAL_DEVELOPMENT=true on a deployed worker: it would accept an http or loopback ORIGIN_URL (unset it)",
                    )
                } else {
                    pass("worker", format!("{base} healthy"))
                });
                let unset: Vec<&str> = h
                    .secrets
                    .iter()
                    .filter(|(_, set)| !**set)
                    .map(|(name, _)| name.as_str())
                    .collect();
                checks.push(if h.secrets.is_empty() {
                    fail("worker_secrets", "health answer lists no secrets")
                } else if unset.is_empty() {
                    pass("worker_secrets", format!("{} set", h.secrets.len()))
                } else {
                    fail("worker_secrets", format!("not set: {}", unset.join(", ")))
                });
            }
        },
    }
    let key = format!("page:{}", slug.as_str());
    checks.push(
        match admin_get(http, base, "/admin/pages", settings, token).await {
            Err(e) => fail("page_prewarmed", e),
            Ok(r) if r.status() != 200 => fail(
                "page_prewarmed",
                format!("/admin/pages answered {}", r.status().as_u16()),
            ),
            Ok(r) => match r.json::<Pages>().await {
                Ok(p) if p.keys.contains(&key) => pass("page_prewarmed", format!("{key} in KV")),
                Ok(_) => fail("page_prewarmed", format!("{key} not in KV")),
                Err(_) => fail(
                    "page_prewarmed",
                    "/admin/pages answered with unexpected JSON",
                ),
            },
        },
    );
    checks
}

/// The first of several spellings of a rate-limit header, as an integer.
fn rate_header(headers: &reqwest::header::HeaderMap, suffix: &str) -> Option<i64> {
    ["x-rate-limit-", "x-ratelimit-", "ratelimit-"]
        .iter()
        .find_map(|prefix| headers.get(format!("{prefix}{suffix}").as_str()))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

async fn product_hunt_checks(http: &reqwest::Client, settings: &PreflightSettings) -> Vec<Check> {
    let Some(token) = &settings.product_hunt_token else {
        return vec![
            skip(
                "product_hunt_token",
                "PRODUCT_HUNT_TOKEN is not set (optional: the launch monitor and ph_graphql tasks need it)",
            ),
            skip("product_hunt_budget", "not checked: no token"),
        ];
    };
    let response = http
        .post(&settings.product_hunt_api_url)
        .bearer_auth(String::from_utf8_lossy(token.expose()))
        .json(&serde_json::json!({ "query": "{ viewer { user { id } } }" }))
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return vec![
                fail("product_hunt_token", format!("API unreachable: {e}")),
                fail("product_hunt_budget", "not checked: API unreachable"),
            ]
        }
    };
    let status = response.status().as_u16();
    let (remaining, limit, reset) = {
        let h = response.headers();
        (
            rate_header(h, "remaining"),
            rate_header(h, "limit"),
            rate_header(h, "reset"),
        )
    };
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let token_check = match status {
        200 if body.get("errors").is_none() && body.pointer("/data/viewer").is_some() => {
            pass("product_hunt_token", "valid (viewer query answered)")
        }
        200 => {
            let message = body
                .pointer("/errors/0/message")
                .and_then(Value::as_str)
                .unwrap_or("no viewer in the answer");
            fail("product_hunt_token", format!("refused: {message}"))
        }
        401 | 403 => fail(
            "product_hunt_token",
            format!("refused ({status}): invalid or revoked"),
        ),
        429 => fail("product_hunt_token", "not verified: budget spent (429)"),
        other => fail("product_hunt_token", format!("API answered {other}")),
    };
    let reset_text = reset.map_or_else(String::new, |s| format!(", resets in {s} s"));
    let budget_check = match remaining {
        _ if status == 429 => fail("product_hunt_budget", format!("spent (429){reset_text}")),
        Some(left) if left < settings.min_product_hunt_budget => fail(
            "product_hunt_budget",
            format!(
                "{left} points left, below {}{reset_text}",
                settings.min_product_hunt_budget
            ),
        ),
        Some(left) => pass(
            "product_hunt_budget",
            format!(
                "{left}/{} points left{reset_text}",
                limit.map_or_else(|| "?".to_owned(), |l| l.to_string())
            ),
        ),
        None => pass(
            "product_hunt_budget",
            "unknown: the API sent no rate-limit headers",
        ),
    };
    vec![token_check, budget_check]
}

fn webhook_check(settings: &PreflightSettings) -> Check {
    let urls: Vec<&str> = settings
        .community_webhooks
        .split([',', ' ', '\n', '\t'])
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return skip(
            "webhooks_allowlisted",
            "COMMUNITY_WEBHOOKS is not set (optional: no community announcements)",
        );
    }
    let refused: Vec<String> = urls
        .iter()
        .filter_map(|u| webhooks::refusal(u, &settings.webhook_allowlist))
        .collect();
    if refused.is_empty() {
        pass(
            "webhooks_allowlisted",
            format!("{} allowlisted", urls.len()),
        )
    } else {
        fail("webhooks_allowlisted", refused.join("; "))
    }
}
