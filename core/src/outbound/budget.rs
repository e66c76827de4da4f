//! Per-destination budgets: spend within a server's rate limit before it has to say 429.
//!
//! Each destination has a [`Budget`]: a limit per fixed window, what is left, and when
//! the window resets. [`Budget::admit`] reserves a call's cost up front; a call that would
//! overspend is not sent but told when to come back ([`Admit::WaitUntil`]). Every
//! response (or failure to get one) feeds back through [`Budget::observe`], so the
//! server's own accounting corrects ours.
//!
//! Product Hunt allows 6,250 GraphQL complexity points and 450 requests to other
//! endpoints per 15 minutes, on the same host, so the GraphQL endpoint has its own key
//! (see [`budget_key`]). Other hosts start from a documented guess (Discord webhooks
//! 5 per 2 s, Slack 1 per s, anything else 60 per minute) that their headers then refine.
//!
//! How it stays under the limit with many calls in flight (a simulated launch in the
//! tests checks it, with the server's window on its own phase):
//! - **One probe per window.** At first, and again whenever a window is over, we do not
//!   know the server's state, so one call goes alone; its response says how much is left
//!   and when the window resets, and that replaces our guess. Only then does the window's
//!   budget open to concurrent calls. A probe whose answer never comes is retried after
//!   [`PROBE_TIMEOUT_MS`].
//! - **Reservations.** Within a synced window `remaining` counts every admitted call, and
//!   a response may only lower it (the server has not yet seen the calls still in flight).
//! - **Stale responses.** A response whose reset lies well before our window's (more than
//!   [`SAME_WINDOW_TOLERANCE_MS`]) describes a window that is over, and is ignored; one
//!   whose reset lies later moves our reset later (never earlier once synced).
//! - **Safety margin, 10 % of the limit** (625 points for Product Hunt) is never spent: it
//!   absorbs the error of our complexity estimate, calls that land after a response was
//!   written, and anyone else using the same token (a dashboard script).
//! - **Reset pad, 1 s**: resets reported in whole seconds, and calls sent just before the
//!   reset that reach the server just after it, mean we open the next window that much
//!   later than the server does.
//! - **A 429 or `Retry-After`** blocks the destination until then (clamped to 1 h) and
//!   empties the window, whatever our own count said.
//!
//! Time is Unix milliseconds (`now_ms`), the unit Durable Object alarms take.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use launch_edge_proto::batch::OutboundBudget;

use super::backoff::MAX_SERVER_DELAY_MS;
use super::rate_limit::RateLimitInfo;

pub const PRODUCT_HUNT_API_HOST: &str = "api.producthunt.com";
pub const PRODUCT_HUNT_GRAPHQL_PATH: &str = "/v2/api/graphql";
pub const PRODUCT_HUNT_GRAPHQL_POINTS: u64 = 6_250;
pub const PRODUCT_HUNT_OTHER_REQUESTS: u64 = 450;
pub const FIFTEEN_MINUTES_MS: u64 = 15 * 60 * 1000;
pub const SAFETY_MARGIN_PERCENT: u64 = 10;
pub const RESET_PAD_MS: u64 = 1_000;
pub const SAME_WINDOW_TOLERANCE_MS: u64 = 2_000;
/// How long a probe may go unanswered before another call may probe.
pub const PROBE_TIMEOUT_MS: u64 = 30_000;
/// How soon a call held back by an unanswered probe should ask again.
pub const PROBE_RECHECK_MS: u64 = 250;
/// How far ahead of its batch a budget report looks (see [`BudgetTable::report`]): the
/// `for` of the budget alert, so a report that reads low stays true while it fires.
pub const REPORT_HORIZON_MS: u64 = 60_000;

/// A limit per fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPolicy {
    pub limit: u64,
    pub window_ms: u64,
}

impl WindowPolicy {
    pub const PRODUCT_HUNT_GRAPHQL: Self = Self {
        limit: PRODUCT_HUNT_GRAPHQL_POINTS,
        window_ms: FIFTEEN_MINUTES_MS,
    };
    pub const PRODUCT_HUNT_OTHER: Self = Self {
        limit: PRODUCT_HUNT_OTHER_REQUESTS,
        window_ms: FIFTEEN_MINUTES_MS,
    };
    pub const DISCORD: Self = Self {
        limit: 5,
        window_ms: 2_000,
    };
    pub const SLACK: Self = Self {
        limit: 1,
        window_ms: 1_000,
    };
    pub const UNKNOWN_HOST: Self = Self {
        limit: 60,
        window_ms: 60_000,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send now; the cost is reserved.
    Now,
    /// Do not send; ask again at this instant (Unix ms).
    WaitUntil(u64),
    /// The call costs more than a whole window may spend: it can never be sent.
    TooExpensive { cost: u64, capacity: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    limit: u64,
    window_ms: u64,
    remaining: u64,
    /// None until a call opens a window.
    resets_at_ms: Option<u64>,
    blocked_until_ms: u64,
    /// True once a response in the current window has told us the server's state.
    synced: bool,
    /// When the unanswered probe of an unsynced window was sent.
    probe_sent_at_ms: Option<u64>,
}

impl Budget {
    pub fn new(policy: WindowPolicy) -> Self {
        Self {
            limit: policy.limit,
            window_ms: policy.window_ms.max(1),
            remaining: policy.limit,
            resets_at_ms: None,
            blocked_until_ms: 0,
            synced: false,
            probe_sent_at_ms: None,
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    pub fn resets_at_ms(&self) -> Option<u64> {
        self.resets_at_ms
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// The part of the limit that is never spent.
    pub fn margin(&self) -> u64 {
        self.limit * SAFETY_MARGIN_PERCENT / 100
    }

    /// The most a single window may spend.
    pub fn capacity(&self) -> u64 {
        self.limit - self.margin()
    }

    /// What may still be spent at `now_ms` in the current window (a window that is over
    /// has its whole [`Budget::capacity`] again, a destination blocked by a 429 or
    /// `Retry-After` nothing), the safety margin excluded.
    pub fn spendable(&self, now_ms: u64) -> u64 {
        if now_ms < self.blocked_until_ms {
            return 0;
        }
        match self.resets_at_ms {
            Some(at) if now_ms >= at.saturating_add(RESET_PAD_MS) => self.capacity(),
            _ => self.remaining.saturating_sub(self.margin()),
        }
    }

    /// Once the window (plus the pad) is over: a full, unsynced window, opened on demand.
    fn roll(&mut self, now_ms: u64) {
        if let Some(at) = self.resets_at_ms {
            if now_ms >= at.saturating_add(RESET_PAD_MS) {
                self.remaining = self.limit;
                self.resets_at_ms = None;
                self.synced = false;
                self.probe_sent_at_ms = None;
            }
        }
    }

    /// Reserves `cost` and says `Now`, or says when to ask again.
    pub fn admit(&mut self, cost: u64, now_ms: u64) -> Admit {
        if cost > self.capacity() {
            return Admit::TooExpensive {
                cost,
                capacity: self.capacity(),
            };
        }
        if now_ms < self.blocked_until_ms {
            return Admit::WaitUntil(self.blocked_until_ms);
        }
        self.roll(now_ms);
        if !self.synced {
            if let Some(sent) = self.probe_sent_at_ms {
                let expires = sent.saturating_add(PROBE_TIMEOUT_MS);
                if now_ms < expires {
                    return Admit::WaitUntil(expires.min(now_ms.saturating_add(PROBE_RECHECK_MS)));
                }
            }
        }
        let resets_at = *self
            .resets_at_ms
            .get_or_insert(now_ms.saturating_add(self.window_ms));
        if self.remaining >= cost.saturating_add(self.margin()) {
            self.remaining -= cost;
            if !self.synced {
                self.probe_sent_at_ms = Some(now_ms);
            }
            Admit::Now
        } else {
            Admit::WaitUntil(resets_at.saturating_add(RESET_PAD_MS))
        }
    }

    /// Gives back a reservation for a call that was admitted but never sent.
    pub fn refund(&mut self, cost: u64) {
        self.remaining = self.remaining.saturating_add(cost).min(self.limit);
        self.probe_sent_at_ms = None;
    }

    /// Learns from the answer to an admitted call: its rate-limit headers and status, or
    /// `status: None` when no answer came (network error, timeout).
    pub fn observe(&mut self, info: &RateLimitInfo, status: Option<u16>, now_ms: u64) {
        self.probe_sent_at_ms = None;
        let Some(code) = status else {
            return;
        };
        self.roll(now_ms);
        let was_synced = self.synced && self.resets_at_ms.is_some();
        self.synced = true;
        if let Some(limit) = info.limit.filter(|&l| l > 0) {
            self.limit = limit;
            self.remaining = self.remaining.min(limit);
        }
        let server_resets_at = info.reset_after_ms.map(|d| now_ms.saturating_add(d));
        match (info.remaining, server_resets_at, self.resets_at_ms) {
            // The first word of a window: the server's view replaces our guess.
            (Some(remaining), Some(server_at), _) if !was_synced => {
                self.remaining = remaining.min(self.limit);
                self.resets_at_ms = Some(server_at);
            }
            (Some(remaining), None, _) if !was_synced => {
                self.remaining = self.remaining.min(remaining);
            }
            // A window that is already over: nothing to learn.
            (_, Some(server_at), Some(local_at))
                if server_at.saturating_add(SAME_WINDOW_TOLERANCE_MS) < local_at => {}
            (remaining, server_at, local_at) => {
                if let Some(remaining) = remaining {
                    self.remaining = self.remaining.min(remaining);
                }
                self.resets_at_ms = local_at.max(server_at);
            }
        }
        if let Some(delay) = info.server_delay_ms(Some(code)) {
            let until = now_ms.saturating_add(delay.min(MAX_SERVER_DELAY_MS));
            self.blocked_until_ms = self.blocked_until_ms.max(until);
        }
        if code == 429 {
            self.remaining = 0;
            self.resets_at_ms
                .get_or_insert(now_ms.saturating_add(self.window_ms));
        }
    }
}

/// The budget a request is charged to: the host, with Product Hunt's GraphQL endpoint
/// kept apart from its other endpoints because it is metered in points, not requests.
pub fn budget_key(host: &str, path: &str) -> String {
    let host = host.to_ascii_lowercase();
    if host == PRODUCT_HUNT_API_HOST && path.trim_end_matches('/') == PRODUCT_HUNT_GRAPHQL_PATH {
        format!("{host}{PRODUCT_HUNT_GRAPHQL_PATH}")
    } else {
        host
    }
}

/// The policy a destination starts from before its headers say more.
pub fn default_policy(key: &str) -> WindowPolicy {
    match key {
        k if k == format!("{PRODUCT_HUNT_API_HOST}{PRODUCT_HUNT_GRAPHQL_PATH}") => {
            WindowPolicy::PRODUCT_HUNT_GRAPHQL
        }
        PRODUCT_HUNT_API_HOST => WindowPolicy::PRODUCT_HUNT_OTHER,
        "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com" => {
            WindowPolicy::DISCORD
        }
        "hooks.slack.com" => WindowPolicy::SLACK,
        _ => WindowPolicy::UNKNOWN_HOST,
    }
}

/// Budgets by [`budget_key`], created on first use from [`default_policy`] or an override.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetTable {
    budgets: BTreeMap<String, Budget>,
    #[serde(default)]
    overrides: BTreeMap<String, WindowPolicy>,
}

impl BudgetTable {
    /// Configures the starting policy of a key (a budget already in use keeps its state).
    pub fn set_policy(&mut self, key: &str, policy: WindowPolicy) {
        self.overrides.insert(key.to_owned(), policy);
    }

    pub fn budget_mut(&mut self, key: &str) -> &mut Budget {
        let policy = self
            .overrides
            .get(key)
            .copied()
            .unwrap_or_else(|| default_policy(key));
        self.budgets
            .entry(key.to_owned())
            .or_insert_with(|| Budget::new(policy))
    }

    pub fn get(&self, key: &str) -> Option<&Budget> {
        self.budgets.get(key)
    }

    pub fn admit(&mut self, key: &str, cost: u64, now_ms: u64) -> Admit {
        self.budget_mut(key).admit(cost, now_ms)
    }

    pub fn observe(&mut self, key: &str, info: &RateLimitInfo, status: Option<u16>, now_ms: u64) {
        self.budget_mut(key).observe(info, status, now_ms)
    }

    /// The budgets as a batch reports them to the origin (`outbound_budgets`): each one
    /// in use, and Product Hunt's GraphQL budget (the launch monitor's) even before its
    /// first call, at its starting policy. `remaining` and `limit` leave the safety
    /// margin out (what may still be spent of what one window may spend), so the
    /// origin's ratio reaches 0 when calls to the target start waiting for the next
    /// window. `target` is the label of [`budget_target`].
    ///
    /// Each budget is reported as it will stand [`REPORT_HORIZON_MS`] after `now_ms`
    /// (unless spent meanwhile): the origin shows a report until the next batch, which
    /// may be minutes away, so a window that refills within seconds (Slack's one call a
    /// second, Discord's five per 2 s) must not read as spent all that time. A window or
    /// block that outlasts the horizon (Product Hunt's 15 minutes) reads as it is.
    pub fn report(&self, now_ms: u64) -> Vec<OutboundBudget> {
        let at = now_ms.saturating_add(REPORT_HORIZON_MS);
        let graphql = format!("{PRODUCT_HUNT_API_HOST}{PRODUCT_HUNT_GRAPHQL_PATH}");
        let unused = (!self.budgets.contains_key(&graphql)).then(|| {
            let policy = self
                .overrides
                .get(&graphql)
                .copied()
                .unwrap_or_else(|| default_policy(&graphql));
            (graphql.clone(), Budget::new(policy))
        });
        let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.budgets
            .iter()
            .map(|(key, budget)| (key.as_str(), budget))
            .chain(unused.as_ref().map(|(key, budget)| (key.as_str(), budget)))
            .map(|(key, budget)| OutboundBudget {
                target: budget_target(key).to_owned(),
                remaining: signed(budget.spendable(at)),
                limit: signed(budget.capacity()),
            })
            .collect()
    }
}

/// The origin's label of a budget key: `producthunt`, `discord`, `slack`, or `webhook`
/// for any other host (a team's own endpoint); one of `OUTBOUND_TARGETS`.
pub fn budget_target(key: &str) -> &'static str {
    match key.split('/').next().unwrap_or(key) {
        PRODUCT_HUNT_API_HOST => "producthunt",
        "discord.com" | "discordapp.com" | "ptb.discord.com" | "canary.discord.com" => "discord",
        "hooks.slack.com" => "slack",
        _ => "webhook",
    }
}

#[cfg(test)]
mod tests;
