//! How cost grows: a model of a launch at internet scale on Cloudflare, computed from
//! per-request costs measured on this repository's benchmark and from the worker's own
//! batching constants, so the model changes when the code does. `docs/scaling.md` shows
//! its table; `cargo run -q -p launch-edge-core --example scale_model` prints it.
//!
//! What it takes from the code: [`MAX_BATCH_EVENTS`] (most events in one shard call),
//! [`DRAIN_TICK_MS`] (every shard drains once a tick), [`MAX_BATCH_ROWS`] (most rows in
//! one batch), [`DEFAULT_COUNTER_SHARDS`] (`wrangler.toml`) and [`ORIGIN_MAX_GROUP`] (the
//! origin's group commit); tests check the last two against the files that set them.
//! What it takes from measurement: [`Measured`]. From Cloudflare's published pages:
//! [`Platform`] and [`Prices`], each figure with its page.
//!
//! The model, per launch traffic of `R` requests a second (every request one event):
//! - shard calls/s = R × (share of views / view events per call + share of clicks and
//!   beacons / acknowledged events per call), each events-per-call at most
//!   [`MAX_BATCH_EVENTS`];
//! - one shard sustains the smaller of (the platform's requests/s for one object × events
//!   per call) and (1,000 ms / the shard's CPU ms per event);
//! - `COUNTER_SHARDS` needed = ⌈R / that⌉; active shards = launches × max(needed,
//!   configured): events rotate over every shard of their launch, so all of them drain;
//! - Durable Object requests/s = shard calls/s + one drain alarm per active shard a tick;
//! - origin batches/s = active shards / tick (a shard with rows sends one batch a tick);
//!   origin replicas = ⌈batches/s ÷ a replica's batches/s + rows/s ÷ its rows/s⌉;
//! - Postgres write transactions/s = replicas × ⌈batches per tick per replica ÷
//!   [`ORIGIN_MAX_GROUP`]⌉ / tick (one group commit per tick per replica, up to 64 batches);
//! - cost per million events: Workers requests and CPU, Durable Object requests, and
//!   Durable Object duration billed as if every active shard were awake the whole time
//!   (an upper bound), plus KV reads, which follow isolates and soft-TTL refreshes, not
//!   events.
//!
//! Drain time after an outage: a shard behind by full batches sends them back to back, so
//! a backlog of `N` rows on `S` shards takes ⌈N / S / [`MAX_BATCH_ROWS`]⌉ origin round
//! trips per shard, each a fixed overhead plus a cost per row, or `N` ÷ a replica's rows/s
//! when the shards together saturate it, whichever is longer: linear in `N`.

use launch_edge_proto::batch::MAX_BATCH_ROWS;

use crate::count::lanes::MAX_BATCH_EVENTS;
use crate::drain::DRAIN_TICK_MS;

/// `COUNTER_SHARDS` in `wrangler.toml` (shards per launch); a test reads the file.
pub const DEFAULT_COUNTER_SHARDS: u32 = 8;
/// The worker's `isolate::batcher::VIEW_WINDOW` in ms (how long views gather in their
/// launch's lane before one call sends them); a test reads `src/isolate/batcher.rs`.
pub const VIEW_WINDOW_MS: u64 = 500;
/// The origin's `ingest::writer::MAX_GROUP` (most batches in one Postgres transaction);
/// a test reads `origin/src/ingest/writer.rs`.
pub const ORIGIN_MAX_GROUP: u32 = 64;

/// Shares of the traffic; they add up to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    pub view: f64,
    pub click: f64,
    pub beacon: f64,
}

/// The launch spike's mix (`bench/run.mjs`): 85% views, 10% clicks, 5% beacons.
pub const SPIKE_MIX: Mix = Mix {
    view: 0.85,
    click: 0.10,
    beacon: 0.05,
};

/// Figures measured on this machine (see `docs/benchmarks.md` and `docs/scaling.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// CPU ms per request of the whole `wrangler dev` process group (workerd, the
    /// objects, the rate limiter all on one machine: an upper bound for Cloudflare). A
    /// counted view costs `view_cpu_ms + shard_call_cpu_ms × shard calls per view`
    /// (fitted to the views spread over 1, 10 and 100 launches); clicks and beacons as
    /// measured in their rows.
    pub view_cpu_ms: f64,
    pub shard_call_cpu_ms: f64,
    pub cpu_ms_click: f64,
    pub cpu_ms_beacon: f64,
    /// Acknowledged events (clicks and beacons) per shard call: they are sent as soon as
    /// the lane is free, so this follows the round trip, not the rate.
    pub acked_events_per_call: f64,
    /// One origin replica (release build, local Postgres): small batches a second from
    /// many senders, and rows a second in full batches from 8 shards.
    pub origin_batches_per_second: f64,
    pub origin_rows_per_second: f64,
    /// Rows in a steady-state batch (one shard, one tick).
    pub rows_per_batch: f64,
    /// A shard draining a backlog alone: seconds per batch (mostly the origin's 100 ms
    /// group-commit window, which a lone batch waits out) plus seconds per row.
    pub batch_overhead_seconds: f64,
    pub batch_row_seconds: f64,
}

/// Measured here: views over 1, 10 and 100 launches ([`MEASURED_LAUNCH_ROWS`], two runs
/// of `BENCH_LAUNCHES=1,10,100`; the view CPU is their least-squares line against shard
/// calls per view; 3.7–4.0 rows per batch), the click and beacon rows of `docs/benchmarks.md` (10:50
/// UTC 2026-12-03, 5.8 and 6.2 events per call) and `cargo run --release -p
/// launch-edge-origin --example ingest_backlog` (18:20 UTC 2026-12-04);
/// `docs/scaling.md` has the commands and the raw output.
pub const MEASURED: Measured = Measured {
    view_cpu_ms: 2.81,
    shard_call_cpu_ms: 6.15,
    cpu_ms_click: 6.59,
    cpu_ms_beacon: 7.26,
    acked_events_per_call: 5.9,
    origin_batches_per_second: 800.0,
    origin_rows_per_second: 86_000.0,
    rows_per_batch: 4.0,
    batch_overhead_seconds: 0.106,
    batch_row_seconds: 0.000_012,
};

/// Cloudflare platform figures the model needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Platform {
    /// "An individual Object has a soft limit of 1,000 requests per second."
    /// <https://developers.cloudflare.com/durable-objects/platform/limits/>
    pub object_requests_per_second: f64,
    /// Duration is billed for 128 MB per object.
    /// <https://developers.cloudflare.com/durable-objects/platform/pricing/>
    pub object_memory_gb: f64,
    /// KV reads a second for the launch's pages (not from the code: an assumption, one
    /// read per isolate per 60 s soft TTL for 1,000 isolates).
    pub kv_reads_per_second: f64,
}

pub const PLATFORM: Platform = Platform {
    object_requests_per_second: 1_000.0,
    object_memory_gb: 0.128,
    kv_reads_per_second: 1_000.0 / 60.0,
};

/// Prices in US dollars, Workers Paid (Standard usage model), beyond the included usage.
/// No page found carries a date; retrieved 2026-12-04 (see `docs/scaling.md`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    /// <https://developers.cloudflare.com/workers/platform/pricing/>: "+$0.30 per
    /// additional million" requests, "+$0.02 per additional million CPU milliseconds".
    pub worker_requests_per_million: f64,
    pub worker_cpu_ms_per_million: f64,
    /// <https://developers.cloudflare.com/durable-objects/platform/pricing/>: requests
    /// "+ $0.15/million" (alarm invocations included), duration "+ $12.50/million GB-s".
    pub object_requests_per_million: f64,
    pub object_gb_s_per_million: f64,
    /// Workers KV reads: "Additional KV usage costs $0.50 per million read operations"
    /// (<https://blog.cloudflare.com/workers-kv-free-tier/>, the newest KV price found).
    pub kv_reads_per_million: f64,
}

pub const PRICES: Prices = Prices {
    worker_requests_per_million: 0.30,
    worker_cpu_ms_per_million: 0.02,
    object_requests_per_million: 0.15,
    object_gb_s_per_million: 12.50,
    kv_reads_per_million: 0.50,
};

/// One scenario: `requests_per_second` for each of `launches` launches at once, each
/// launch's traffic spread evenly over `isolates` isolates (lanes are per isolate and per
/// launch, so this sets how many views one call carries; Cloudflare publishes no figure
/// for it, so every scenario states its own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scenario {
    pub requests_per_second: f64,
    pub launches: u32,
    pub isolates: u32,
}

/// Cost per million events, by line, in dollars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    pub worker_requests: f64,
    pub worker_cpu: f64,
    pub object_requests: f64,
    pub object_duration: f64,
    pub kv_reads: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.worker_requests
            + self.worker_cpu
            + self.object_requests
            + self.object_duration
            + self.kv_reads
    }
}

/// What the model says for a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub scenario: Scenario,
    /// Views one shard call carries, and the CPU ms of a request of the mix.
    pub view_events_per_call: f64,
    pub cpu_ms_per_request: f64,
    /// Events one shard sustains a second with this mix.
    pub shard_events_per_second: f64,
    /// `COUNTER_SHARDS` one launch needs, and the shards draining (all launches).
    pub counter_shards_needed: u32,
    pub active_shards: u32,
    pub object_requests_per_second: f64,
    pub origin_replicas: u32,
    pub postgres_transactions_per_second: f64,
    pub cost_per_million_events: Cost,
}

fn tick_seconds() -> f64 {
    DRAIN_TICK_MS as f64 / 1000.0
}

/// Views one shard call carries when an isolate receives `views_per_second` views of one
/// launch: those of one [`VIEW_WINDOW_MS`], at least one, at most [`MAX_BATCH_EVENTS`].
pub fn view_events_per_call(views_per_second: f64) -> f64 {
    (views_per_second * VIEW_WINDOW_MS as f64 / 1000.0).clamp(1.0, MAX_BATCH_EVENTS as f64)
}

/// Shard calls per event for `mix`, views carrying `view_events` per call.
pub fn shard_calls_per_event(measured: &Measured, mix: &Mix, view_events: f64) -> f64 {
    let cap = MAX_BATCH_EVENTS as f64;
    let acked = measured.acked_events_per_call.clamp(1.0, cap);
    mix.view / view_events.clamp(1.0, cap) + (mix.click + mix.beacon) / acked
}

/// Events one shard sustains a second: the calls it takes a second (the object's request
/// limit, or its CPU per call, whichever is lower) times the events a call carries.
pub fn shard_events_per_second(
    measured: &Measured,
    mix: &Mix,
    platform: &Platform,
    view_events: f64,
) -> f64 {
    let calls = platform
        .object_requests_per_second
        .min(1000.0 / measured.shard_call_cpu_ms);
    calls / shard_calls_per_event(measured, mix, view_events)
}

/// Seconds to drain `rows` pending rows spread over `shards` shards after an outage.
pub fn drain_seconds(rows: u64, shards: u32, measured: &Measured) -> f64 {
    let per_shard = rows.div_ceil(u64::from(shards.max(1)));
    let batches = per_shard.div_ceil(MAX_BATCH_ROWS as u64);
    let one_shard = batches as f64 * measured.batch_overhead_seconds
        + per_shard as f64 * measured.batch_row_seconds;
    let replica = rows as f64 / measured.origin_rows_per_second;
    one_shard.max(replica)
}

pub fn model(
    scenario: Scenario,
    mix: &Mix,
    measured: &Measured,
    platform: &Platform,
    prices: &Prices,
) -> Row {
    let rps = scenario.requests_per_second;
    let launches = scenario.launches.max(1);
    let all_rps = rps * f64::from(launches);
    let isolates = f64::from(scenario.isolates.max(1));
    let view_events = view_events_per_call(rps * mix.view / isolates);
    let calls_per_event = shard_calls_per_event(measured, mix, view_events);
    let per_shard = shard_events_per_second(measured, mix, platform, view_events);
    let needed = ((rps / per_shard).ceil() as u32).max(1);
    let active = launches * needed.max(DEFAULT_COUNTER_SHARDS);
    let tick = tick_seconds();
    let alarms_per_second = f64::from(active) / tick;
    let calls_per_second = all_rps * calls_per_event;
    let object_rps = calls_per_second + alarms_per_second;

    let batches_per_second = f64::from(active) / tick;
    let rows_per_second = batches_per_second * measured.rows_per_batch.min(MAX_BATCH_ROWS as f64);
    let load = batches_per_second / measured.origin_batches_per_second
        + rows_per_second / measured.origin_rows_per_second;
    let replicas = (load.ceil() as u32).max(1);
    let batches_per_tick_per_replica = f64::from(active) / f64::from(replicas);
    let groups = (batches_per_tick_per_replica / f64::from(ORIGIN_MAX_GROUP)).ceil();
    let transactions = f64::from(replicas) * groups / tick;

    let per_million = |per_second: f64| per_second / all_rps * 1e6;
    let view_cpu = measured.view_cpu_ms + measured.shard_call_cpu_ms / view_events;
    let cpu_ms = mix.view * view_cpu
        + mix.click * measured.cpu_ms_click
        + mix.beacon * measured.cpu_ms_beacon;
    let cost = Cost {
        worker_requests: prices.worker_requests_per_million,
        worker_cpu: cpu_ms * prices.worker_cpu_ms_per_million,
        object_requests: per_million(object_rps) / 1e6 * prices.object_requests_per_million,
        object_duration: per_million(f64::from(active) * platform.object_memory_gb) / 1e6
            * prices.object_gb_s_per_million,
        kv_reads: per_million(platform.kv_reads_per_second) / 1e6 * prices.kv_reads_per_million,
    };
    Row {
        scenario,
        view_events_per_call: view_events,
        cpu_ms_per_request: cpu_ms,
        shard_events_per_second: per_shard,
        counter_shards_needed: needed,
        active_shards: active,
        object_requests_per_second: object_rps,
        origin_replicas: replicas,
        postgres_transactions_per_second: transactions,
        cost_per_million_events: cost,
    }
}

/// The scenarios of `docs/scaling.md`: the spike's 750 requests/s on one isolate, 10k and
/// 100k requests/s on one launch at 100 requests/s per isolate, the same 10k with every
/// view alone in its isolate (the worst case for batching), and 100 launches at once.
pub const SCENARIOS: [Scenario; 5] = [
    Scenario {
        requests_per_second: 750.0,
        launches: 1,
        isolates: 1,
    },
    Scenario {
        requests_per_second: 10_000.0,
        launches: 1,
        isolates: 100,
    },
    Scenario {
        requests_per_second: 10_000.0,
        launches: 1,
        isolates: 10_000,
    },
    Scenario {
        requests_per_second: 100_000.0,
        launches: 1,
        isolates: 1_000,
    },
    Scenario {
        requests_per_second: 1_000.0,
        launches: 100,
        isolates: 10,
    },
];

/// Only views: the mix of the active-launches rows.
pub const VIEWS_ONLY: Mix = Mix {
    view: 1.0,
    click: 0.0,
    beacon: 0.0,
};

/// The active-launches rows as measured (`BENCH_LAUNCHES=1,10,100`, one isolate, 18:25
/// and 18:29 UTC 2026-12-04): total views/s, launches, and the measured views per shard
/// call and CPU ms per request.
// 6.28 below is a measured CPU figure, not τ.
#[allow(clippy::approx_constant)]
pub const MEASURED_LAUNCH_ROWS: [(f64, u32, f64, f64); 6] = [
    (257.0, 1, 132.3, 3.06),
    (156.0, 10, 9.8, 4.09),
    (123.0, 100, 1.4, 6.28),
    (426.0, 1, 217.2, 2.49),
    (353.0, 10, 19.5, 2.74),
    (106.0, 100, 1.3, 8.33),
];

/// The model against the measured active-launches rows.
pub fn check_table(measured: &Measured) -> String {
    let mut out = String::from(
        "| views/s × launches (one isolate) | views per shard call: model / measured | CPU ms per request: model / measured |\n\
         | ---: | ---: | ---: |\n",
    );
    for (total, launches, per_call, cpu) in MEASURED_LAUNCH_ROWS {
        let per_launch = total / f64::from(launches);
        let scenario = Scenario {
            requests_per_second: per_launch,
            launches,
            isolates: 1,
        };
        let row = model(scenario, &VIEWS_ONLY, measured, &PLATFORM, &PRICES);
        out.push_str(&format!(
            "| {total:.0} = {per_launch:.1} × {launches} | {:.1} / {per_call:.1} | {:.2} / {cpu:.2} |\n",
            row.view_events_per_call, row.cpu_ms_per_request
        ));
    }
    out
}

/// The Markdown table of `docs/scaling.md` for `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| requests/s per launch × launches (isolates per launch) | views per shard call | CPU ms per request | events/s one shard sustains | COUNTER_SHARDS needed | active shards | Durable Object requests/s | origin replicas | Postgres write tx/s | $ per million events = Workers requests + CPU + DO requests + DO duration + KV |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for row in rows {
        let c = row.cost_per_million_events;
        out.push_str(&format!(
            "| {:.0} × {} ({}) | {:.1} | {:.2} | {:.0} | {} | {} | {:.0} | {} | {:.1} | {:.3} = {:.2} + {:.3} + {:.4} + {:.4} + {:.4} |\n",
            row.scenario.requests_per_second,
            row.scenario.launches,
            row.scenario.isolates,
            row.view_events_per_call,
            row.cpu_ms_per_request,
            row.shard_events_per_second,
            row.counter_shards_needed,
            row.active_shards,
            row.object_requests_per_second,
            row.origin_replicas,
            row.postgres_transactions_per_second,
            c.total(),
            c.worker_requests,
            c.worker_cpu,
            c.object_requests,
            c.object_duration,
            c.kv_reads,
        ));
    }
    out
}

/// Drain time against backlog size, in the shape of `docs/scaling.md`.
pub fn drain_table(sizes: &[u64], shards: &[u32], measured: &Measured) -> String {
    let mut out =
        String::from("| pending rows | shards | modelled drain s |\n| ---: | ---: | ---: |\n");
    for &rows in sizes {
        for &s in shards {
            out.push_str(&format!(
                "| {rows} | {s} | {:.2} |\n",
                drain_seconds(rows, s, measured)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
