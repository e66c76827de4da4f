//! What a failed preflight check means for the launch and how to fix it: two lines
//! printed under each `FAIL`. Commands are the ones that exist (the origin's CLI,
//! `scripts/deploy.sh`, `wrangler secret put`, the worker's admin API).

use std::fmt;

use launch_edge_proto::Slug;

use super::Check;

/// The two lines under a `FAIL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// What goes wrong on launch day if this is left as it is.
    pub means: String,
    /// What to run or change, then run preflight again.
    pub fix: String,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "      means: {}\n      fix:   {}", self.means, self.fix)
    }
}

const SECRET_PUT: &str =
    "npx wrangler secret put NAME --config wrangler.production.toml --env production";

/// The explanation of a failed check; `None` for `PASS` and `SKIP`.
pub fn explain(check: &Check, slug: &Slug) -> Option<Explanation> {
    if check.passed {
        return None;
    }
    let slug = slug.as_str();
    let detail = check.detail.as_str();
    if let Some(reason) = detail.strip_prefix("not checked: ") {
        return Some(Explanation {
            means: format!("this check could not run ({reason}), so it is not known to be ready"),
            fix: "fix the FAIL it depends on (listed above it), then run preflight again".into(),
        });
    }
    let (means, fix): (&str, String) = match check.name {
        "postgres" => (
            "the origin can neither render pages nor store counts",
            "check DATABASE_URL (host, port, user, password) and that Postgres is up: `psql \"$DATABASE_URL\" -c 'SELECT 1'`".into(),
        ),
        "migrations" => (
            "the schema is older than this origin: ingest, reports or the dashboard would fail on a missing table or column",
            "`launch-edge-origin migrate` (straight against Postgres, not through PgBouncer)".into(),
        ),
        "launch" => (
            "there is no launch with this slug: its page would be a 404 and nothing would be counted",
            format!("`launch-edge-origin launch apply launch.toml` (see docs/launches.md), or check the slug against `launch-edge-origin launch list` (asked for: {slug})"),
        ),
        "destinations" => (
            "the page's buttons would have nowhere valid to send clicks",
            "give the launch file `[[cta]]` buttons with absolute https URLs on its `cta_hosts`, then `launch-edge-origin launch apply launch.toml`".into(),
        ),
        "money" => (
            "CAC, LTV / CAC and ROI would be blank in the report and on the dashboard",
            "set `[business.spend]` (or `cost_per_visitor`) and `expected_ltv` in the launch file, then `launch-edge-origin launch apply launch.toml`".into(),
        ),
        "worker" => ("the edge would not serve the launch page, or not with this configuration", worker_fix(detail)),
        "worker_secrets" => (
            "the worker is missing a secret it needs for pages, counting or signing",
            format!("set each one listed: `{SECRET_PUT}` (at least 32 bytes, e.g. `openssl rand -hex 32`), then `bash scripts/deploy.sh production`"),
        ),
        "page_prewarmed" => (
            "the page is not in KV yet: the first visitors of each location would wait for an origin render",
            format!("`curl -fsS -X POST -H \"authorization: Bearer $ADMIN_TOKEN\" $WORKER_URL/admin/launches/{slug}/prewarm` (the worker's cron also does it from T-2 h); if that fails, the origin cannot render the page: check `launch-edge-origin launch show {slug}`"),
        ),
        "product_hunt_token" => (
            "the token is set but does not work: the launch monitor would record no votes or comments and ph_graphql tasks would dead-letter",
            if detail.contains("429") {
                "wait for Product Hunt's rate-limit window to reset (or stop other users of the token), then run preflight again".into()
            } else if detail.contains("unreachable") {
                "check PRODUCT_HUNT_API_URL (default https://api.producthunt.com/v2/api/graphql) and the network, then run preflight again".into()
            } else {
                format!("create a new developer token at Product Hunt, then set PRODUCT_HUNT_TOKEN here and on the worker (`{}`); or unset it here to skip the Product Hunt checks", SECRET_PUT.replace("NAME", "PRODUCT_HUNT_TOKEN"))
            },
        ),
        "product_hunt_budget" => (
            "the launch monitor could run out of Product Hunt API points during the launch",
            "wait for the window to reset (the line says when), stop other users of the same token, or lower PREFLIGHT_MIN_PH_BUDGET if the monitor needs fewer points".into(),
        ),
        "webhooks_allowlisted" => (
            "the worker would refuse to post to these webhooks: those community announcements would never be sent",
            "use an https URL on the default port, or add the host to the worker's WEBHOOK_ALLOWLIST var in wrangler.toml (and here), then `bash scripts/deploy.sh production`".into(),
        ),
        _ => ("this check failed", "see docs/launch-week.md".into()),
    };
    Some(Explanation {
        means: means.into(),
        fix,
    })
}

fn worker_fix(detail: &str) -> String {
    if detail.contains("answered 401") {
        "set ADMIN_TOKEN to the worker's current admin token (during a rotation, the new one)"
            .into()
    } else if detail.contains("misconfigured") {
        format!("correct the setting named above: a secret with `{SECRET_PUT}`, a var in wrangler.toml; then `bash scripts/deploy.sh production`")
    } else if detail.contains("LOCAL_DEVELOPMENT") {
        "remove LOCAL_DEVELOPMENT from the deployed worker's vars, then `bash scripts/deploy.sh production`".into()
    } else if detail.contains("unreachable") {
        "check WORKER_URL, the route's DNS record and that the worker is deployed (`bash scripts/deploy.sh production`)".into()
    } else {
        "read the worker's log (`npx wrangler tail --config wrangler.production.toml --env production`) and redeploy with `bash scripts/deploy.sh production`".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &'static str, passed: bool, detail: &str) -> Check {
        Check {
            name,
            passed,
            skipped: false,
            detail: detail.into(),
        }
    }

    #[test]
    fn only_failures_are_explained_and_each_names_a_fix() {
        let slug = Slug::parse("rocket").unwrap();
        assert_eq!(explain(&check("postgres", true, "reachable"), &slug), None);
        let prewarm = explain(
            &check("page_prewarmed", false, "page:rocket not in KV"),
            &slug,
        )
        .expect("a FAIL is explained");
        assert!(prewarm.fix.contains("/admin/launches/rocket/prewarm"));
        assert!(prewarm.to_string().starts_with("      means: "));
        assert!(prewarm.to_string().contains("\n      fix:   "));
        let cascaded =
            explain(&check("money", false, "not checked: no such launch"), &slug).unwrap();
        assert!(cascaded.means.contains("no such launch"));
    }

    #[test]
    fn a_refused_admin_token_and_an_unreachable_worker_get_different_fixes() {
        assert!(
            worker_fix("/admin/health answered 401 (ADMIN_TOKEN refused)").contains("ADMIN_TOKEN")
        );
        assert!(worker_fix("unreachable: error sending request").contains("WORKER_URL"));
    }
}
