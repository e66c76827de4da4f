//! Budget arithmetic, reconciliation with server headers, and a small simulated launch.

use super::*;
use crate::outbound::rng::{uniform_inclusive, SplitMix64};

const T0: u64 = 1_796_112_000_000;
const GRAPHQL: &str = "api.producthunt.com/v2/api/graphql";

fn ph() -> Budget {
    Budget::new(WindowPolicy::PRODUCT_HUNT_GRAPHQL)
}

fn info(remaining: u64, reset_secs: u64) -> RateLimitInfo {
    RateLimitInfo {
        limit: None,
        remaining: Some(remaining),
        reset_after_ms: Some(reset_secs * 1000),
        retry_after_ms: None,
    }
}

#[test]
fn product_hunt_graphql_keeps_a_ten_percent_margin() {
    let b = ph();
    assert_eq!(b.limit(), 6_250);
    assert_eq!(b.margin(), 625);
    assert_eq!(b.capacity(), 5_625);
}

/// A Product Hunt budget whose first call (the probe, costing 10) was answered at
/// `T0 + 100` with `remaining` left and the reset `reset_secs` away.
fn synced(remaining: u64, reset_secs: u64) -> Budget {
    let mut b = ph();
    assert_eq!(b.admit(10, T0), Admit::Now);
    b.observe(&info(remaining, reset_secs), Some(200), T0 + 100);
    assert!(b.is_synced());
    b
}

#[test]
fn only_one_probe_goes_out_until_the_server_has_answered() {
    let mut b = ph();
    assert!(!b.is_synced());
    assert_eq!(b.admit(10, T0), Admit::Now);
    assert_eq!(
        b.admit(10, T0 + 5),
        Admit::WaitUntil(T0 + 5 + PROBE_RECHECK_MS)
    );
    // A probe that is never answered gives way to another after the timeout.
    assert_eq!(b.admit(10, T0 + PROBE_TIMEOUT_MS), Admit::Now);
    // A probe that failed without an answer gives way at once.
    b.observe(&RateLimitInfo::default(), None, T0 + PROBE_TIMEOUT_MS + 10);
    assert!(!b.is_synced());
    assert_eq!(b.admit(10, T0 + PROBE_TIMEOUT_MS + 20), Admit::Now);
    // Any answer syncs the window, even one without rate-limit headers.
    b.observe(
        &RateLimitInfo::default(),
        Some(200),
        T0 + PROBE_TIMEOUT_MS + 30,
    );
    assert!(b.is_synced());
    assert_eq!(b.admit(10, T0 + PROBE_TIMEOUT_MS + 40), Admit::Now);
    assert_eq!(b.admit(10, T0 + PROBE_TIMEOUT_MS + 40), Admit::Now);
}

#[test]
fn calls_are_admitted_until_the_margin_then_wait_for_the_window_reset() {
    let mut b = synced(6_150, 900);
    let reset = T0 + 100 + FIFTEEN_MINUTES_MS;
    for i in 0..55 {
        assert_eq!(b.admit(100, T0 + 200 + i), Admit::Now, "call {i}");
    }
    assert_eq!(b.remaining(), 650);
    assert_eq!(
        b.admit(100, T0 + 300),
        Admit::WaitUntil(reset + RESET_PAD_MS)
    );
    // A cheaper call still fits above the margin.
    assert_eq!(b.admit(25, T0 + 301), Admit::Now);
    assert_eq!(b.admit(1, T0 + 302), Admit::WaitUntil(reset + RESET_PAD_MS));
    // Not yet at reset + pad: still waiting; then a new window, opened by a probe.
    assert_eq!(
        b.admit(100, reset + 500),
        Admit::WaitUntil(reset + RESET_PAD_MS)
    );
    assert_eq!(b.admit(100, reset + RESET_PAD_MS), Admit::Now);
    assert_eq!(b.remaining(), 6_150);
    assert!(!b.is_synced());
}

#[test]
fn a_call_larger_than_a_window_can_spend_is_refused_outright() {
    let mut b = ph();
    assert_eq!(
        b.admit(5_626, T0),
        Admit::TooExpensive {
            cost: 5_626,
            capacity: 5_625
        }
    );
    assert_eq!(b.admit(5_625, T0), Admit::Now);
}

#[test]
fn the_first_answer_of_a_window_replaces_our_guess() {
    // The server's window began long before our first call: it resets in 100 s.
    let mut b = synced(300, 100);
    assert_eq!(b.remaining(), 300);
    assert_eq!(b.resets_at_ms(), Some(T0 + 100_100));
    assert_eq!(
        b.admit(10, T0 + 2_000),
        Admit::WaitUntil(T0 + 100_100 + RESET_PAD_MS)
    );
    assert_eq!(b.admit(10, T0 + 102_000), Admit::Now);
    assert_eq!(b.remaining(), 6_240);
}

#[test]
fn a_lower_remaining_reported_in_the_same_window_wins() {
    let mut b = synced(6_240, 900);
    // 300 s later the server reports 600 s to go: the same window as ours.
    b.observe(&info(700, 600), Some(200), T0 + 300_000);
    assert_eq!(b.remaining(), 700);
    assert!(matches!(b.admit(76, T0 + 300_001), Admit::WaitUntil(_)));
    assert_eq!(b.admit(75, T0 + 300_002), Admit::Now);
}

#[test]
fn a_higher_remaining_in_the_same_window_does_not_undo_our_reservations() {
    let mut b = synced(6_240, 900);
    assert_eq!(b.admit(1_000, T0 + 200), Admit::Now);
    b.observe(&info(6_240, 899), Some(200), T0 + 1_000);
    assert_eq!(b.remaining(), 5_240);
}

#[test]
fn a_stale_answer_about_a_finished_window_is_ignored() {
    let mut b = synced(6_240, 900);
    let next = T0 + 100 + FIFTEEN_MINUTES_MS + RESET_PAD_MS;
    assert_eq!(b.admit(10, next), Admit::Now);
    b.observe(&info(6_000, 899), Some(200), next + 100);
    // A call from the old window answers late: 3 left, resetting "now".
    b.observe(&info(3, 0), Some(200), next + 200);
    assert_eq!(b.remaining(), 6_000);
    assert_eq!(b.resets_at_ms(), Some(next + 100 + 899_000));
}

#[test]
fn a_later_reset_moves_ours_later_but_an_earlier_one_never_moves_it_earlier() {
    let mut b = synced(6_240, 900);
    b.observe(&info(6_000, 960), Some(200), T0 + 1_000);
    assert_eq!(b.resets_at_ms(), Some(T0 + 961_000));
    b.observe(&info(5_900, 959), Some(200), T0 + 1_000);
    assert_eq!(b.resets_at_ms(), Some(T0 + 961_000));
    assert_eq!(b.remaining(), 5_900);
}

#[test]
fn the_servers_limit_replaces_the_guessed_one() {
    let mut b = Budget::new(WindowPolicy::UNKNOWN_HOST);
    let discord = RateLimitInfo {
        limit: Some(5),
        remaining: Some(4),
        reset_after_ms: Some(2_000),
        retry_after_ms: None,
    };
    assert_eq!(b.admit(1, T0), Admit::Now);
    b.observe(&discord, Some(204), T0 + 100);
    assert_eq!((b.limit(), b.remaining()), (5, 4));
    for _ in 0..4 {
        assert_eq!(b.admit(1, T0 + 200), Admit::Now);
    }
    assert_eq!(
        b.admit(1, T0 + 300),
        Admit::WaitUntil(T0 + 2_100 + RESET_PAD_MS)
    );
}

#[test]
fn a_429_with_retry_after_blocks_until_then_and_empties_the_window() {
    let mut b = ph();
    assert_eq!(b.admit(10, T0), Admit::Now);
    let throttled = RateLimitInfo {
        retry_after_ms: Some(30_000),
        ..RateLimitInfo::default()
    };
    b.observe(&throttled, Some(429), T0 + 10);
    assert_eq!(b.remaining(), 0);
    assert_eq!(b.admit(10, T0 + 20), Admit::WaitUntil(T0 + 30_010));
    // After the block, the window is still spent until it resets.
    assert_eq!(
        b.admit(10, T0 + 30_010),
        Admit::WaitUntil(T0 + FIFTEEN_MINUTES_MS + RESET_PAD_MS)
    );
}

#[test]
fn a_server_delay_longer_than_an_hour_is_clamped() {
    let mut b = ph();
    let absurd = RateLimitInfo {
        retry_after_ms: Some(30 * 24 * 3_600_000),
        ..RateLimitInfo::default()
    };
    b.observe(&absurd, Some(429), T0);
    assert_eq!(
        b.admit(1, T0 + 1),
        Admit::WaitUntil(T0 + MAX_SERVER_DELAY_MS)
    );
}

#[test]
fn a_refund_returns_an_unused_reservation_but_never_above_the_limit() {
    let mut b = ph();
    assert_eq!(b.admit(500, T0), Admit::Now);
    b.refund(500);
    assert_eq!(b.remaining(), 6_250);
    b.refund(500);
    assert_eq!(b.remaining(), 6_250);
}

#[test]
fn graphql_and_other_product_hunt_endpoints_have_separate_budgets() {
    assert_eq!(
        budget_key("api.producthunt.com", "/v2/api/graphql"),
        GRAPHQL
    );
    assert_eq!(
        budget_key("API.ProductHunt.com", "/v2/api/graphql/"),
        GRAPHQL
    );
    assert_eq!(
        budget_key("api.producthunt.com", "/v1/posts"),
        "api.producthunt.com"
    );
    assert_eq!(
        budget_key("discord.com", "/api/webhooks/1/x"),
        "discord.com"
    );
    assert_eq!(default_policy(GRAPHQL), WindowPolicy::PRODUCT_HUNT_GRAPHQL);
    assert_eq!(
        default_policy("api.producthunt.com").limit,
        PRODUCT_HUNT_OTHER_REQUESTS
    );
    assert_eq!(default_policy("hooks.slack.com"), WindowPolicy::SLACK);
    assert_eq!(default_policy("example.org"), WindowPolicy::UNKNOWN_HOST);
}

#[test]
fn the_table_keeps_one_budget_per_key_and_survives_a_json_round_trip() {
    let mut table = BudgetTable::default();
    table.set_policy(
        "alerts.example.org",
        WindowPolicy {
            limit: 2,
            window_ms: 10_000,
        },
    );
    assert_eq!(table.admit(GRAPHQL, 100, T0), Admit::Now);
    assert_eq!(table.admit("api.producthunt.com", 1, T0), Admit::Now);
    assert_eq!(table.admit("alerts.example.org", 1, T0), Admit::Now);
    table.observe(
        "alerts.example.org",
        &RateLimitInfo::default(),
        Some(204),
        T0,
    );
    assert_eq!(table.admit("alerts.example.org", 1, T0), Admit::Now);
    assert!(matches!(
        table.admit("alerts.example.org", 1, T0),
        Admit::WaitUntil(_)
    ));
    assert_eq!(table.get(GRAPHQL).unwrap().remaining(), 6_150);
    assert_eq!(table.get("api.producthunt.com").unwrap().remaining(), 449);

    let json = serde_json::to_string(&table).unwrap();
    let back: BudgetTable = serde_json::from_str(&json).unwrap();
    assert_eq!(back, table);
}

/// A fake Product Hunt: fixed 15-minute windows on its own phase, 6,250 points each,
/// charging the *actual* cost (our estimate ± 10 %), 429 when a call does not fit.
struct FakeServer {
    window_start_ms: u64,
    remaining: u64,
}

impl FakeServer {
    fn call(&mut self, actual_cost: u64, now_ms: u64) -> (u16, RateLimitInfo) {
        while now_ms >= self.window_start_ms + FIFTEEN_MINUTES_MS {
            self.window_start_ms += FIFTEEN_MINUTES_MS;
            self.remaining = PRODUCT_HUNT_GRAPHQL_POINTS;
        }
        let status = if actual_cost > self.remaining {
            429
        } else {
            self.remaining -= actual_cost;
            200
        };
        let reset_secs = (self.window_start_ms + FIFTEEN_MINUTES_MS - now_ms).div_ceil(1000);
        (status, info(self.remaining, reset_secs))
    }
}

/// Calls in flight: (reaches the server at, answered at, actual cost, server's answer).
type InFlight = (u64, u64, u64, Option<(u16, RateLimitInfo)>);

#[test]
fn a_simulated_launch_with_calls_in_flight_never_sees_a_429_and_uses_most_of_the_budget() {
    let mut rng = SplitMix64::new(2026);
    // The server's window began 10 minutes before our first call.
    let mut server = FakeServer {
        window_start_ms: T0 - 600_000,
        remaining: 2_000,
    };
    let mut budget = ph();
    let mut in_flight: Vec<InFlight> = Vec::new();
    let (mut sent, mut throttled, mut spent, mut next_try) = (0u64, 0u64, 0u64, T0);
    let end = T0 + 4 * 3_600_000;
    let mut now = T0;
    while now < end {
        for call in in_flight.iter_mut() {
            if call.3.is_none() && call.0 <= now {
                let answer = server.call(call.2, call.0);
                if answer.0 == 429 {
                    throttled += 1;
                } else {
                    spent += call.2;
                }
                call.3 = Some(answer);
            }
        }
        in_flight.retain(|(_, answered_at, _, answer)| match answer {
            Some((status, headers)) if *answered_at <= now => {
                budget.observe(headers, Some(*status), *answered_at);
                false
            }
            _ => true,
        });
        // Up to four new calls per 50 ms tick, each estimated at 40 to 60 points and
        // actually costing 90 % to 110 % of the estimate.
        for _ in 0..4 {
            if now < next_try {
                break;
            }
            let estimate = 40 + uniform_inclusive(&mut rng, 20);
            match budget.admit(estimate, now) {
                Admit::Now => {
                    let actual = estimate * (90 + uniform_inclusive(&mut rng, 20)) / 100;
                    let latency = 50 + uniform_inclusive(&mut rng, 950);
                    in_flight.push((now + latency / 2, now + latency, actual, None));
                    sent += 1;
                }
                Admit::WaitUntil(at) => next_try = at,
                Admit::TooExpensive { .. } => unreachable!(),
            }
        }
        now += 50;
    }
    assert_eq!(throttled, 0, "{throttled} of {sent} calls got 429");
    // 4 hours are 16 windows of 6,250 points: at least 80 % of that is used.
    assert!(
        spent >= 16 * 6_250 * 80 / 100,
        "spent only {spent} in {sent} calls"
    );
}

#[test]
fn the_report_names_each_target_and_what_may_still_be_spent_of_a_window() {
    let mut table = BudgetTable::default();
    let fresh = table.report(T0);
    assert_eq!(
        fresh,
        [OutboundBudget {
            target: "producthunt".into(),
            remaining: 5_625,
            limit: 5_625,
        }],
        "the monitor's budget is known before its first call"
    );
    assert_eq!(table.admit(GRAPHQL, 1_000, T0), Admit::Now);
    assert_eq!(table.admit("discord.com", 1, T0), Admit::Now);
    assert_eq!(table.admit("hooks.example.org", 1, T0), Admit::Now);
    let report = table.report(T0 + 10);
    let of = |target: &str| {
        report
            .iter()
            .find(|b| b.target == target)
            .map(|b| (b.remaining, b.limit))
    };
    assert_eq!(report.len(), 3, "{report:?}");
    assert_eq!(of("producthunt"), Some((4_625, 5_625)));
    assert_eq!(of("webhook"), Some((53, 54)));
    assert_eq!(
        of("discord"),
        Some((5, 5)),
        "a 2 s window refills long before the next report"
    );
    // A window that is over has its whole capacity again.
    let later = table.report(T0 + FIFTEEN_MINUTES_MS + RESET_PAD_MS);
    assert!(later.iter().all(|b| b.remaining == b.limit), "{later:?}");
    assert!(report
        .iter()
        .all(|b| launch_edge_proto::batch::OUTBOUND_TARGETS.contains(&b.target.as_str())));
}

#[test]
fn a_429_reports_the_budget_as_spent_while_its_block_outlasts_the_horizon() {
    let mut table = BudgetTable::default();
    assert_eq!(table.admit(GRAPHQL, 10, T0), Admit::Now);
    table.observe(GRAPHQL, &RateLimitInfo::default(), Some(429), T0 + 5);
    assert_eq!(table.report(T0 + 6)[0].remaining, 0);

    let slack = "hooks.slack.com";
    assert_eq!(table.admit(slack, 1, T0), Admit::Now);
    let of = |table: &BudgetTable, at| {
        table
            .report(at)
            .into_iter()
            .find(|b| b.target == "slack")
            .map(|b| b.remaining)
    };
    assert_eq!(
        of(&table, T0 + 1),
        Some(1),
        "its one-second window is over within the horizon"
    );
    let blocked = RateLimitInfo {
        retry_after_ms: Some(10 * 60_000),
        ..RateLimitInfo::default()
    };
    table.observe(slack, &blocked, Some(429), T0 + 2);
    assert_eq!(of(&table, T0 + 3), Some(0), "blocked for ten minutes");
    assert_eq!(
        of(&table, T0 + 10 * 60_000 - REPORT_HORIZON_MS + 3),
        Some(1),
        "the block ends within the horizon"
    );
}

#[test]
fn budget_keys_map_to_the_origins_targets() {
    assert_eq!(budget_target(GRAPHQL), "producthunt");
    assert_eq!(budget_target("api.producthunt.com"), "producthunt");
    assert_eq!(budget_target("canary.discord.com"), "discord");
    assert_eq!(budget_target("hooks.slack.com"), "slack");
    assert_eq!(budget_target("hooks.example.org"), "webhook");
}
