//! The counter state of one shard: exact counts, unique-visitor sketches and the
//! exactly-once handoff of both to the origin. Pure: the Durable Object glue feeds it
//! events and persists what it returns.
//!
//! What is counted: per launch, Pacific day, UTC minute, source, utm medium, utm campaign
//! and metric, an exact integer ([`CounterState::apply`]). Alongside, per launch and day: totals by source and
//! metric for the live stats (kept after flushing) and a [`VisitorSketch`] of the human
//! visitors.
//!
//! Exactly once, end to end:
//! - every applied event lands in `pending` (and in storage, see [`storage`]) before the
//!   glue answers 2xx;
//! - [`CounterState::take_batch`] moves the sketches that changed and pending rows, within
//!   the batch limits the origin applies too (`launch_edge_proto::batch::BatchBudget`),
//!   into one in-flight [`IngestBatch`] with id `"{shard}:{incarnation}:{seq}"`; while it
//!   is in flight, `take_batch` returns that same batch, byte for byte, so a retry after
//!   a lost answer is recognised by the origin, which applies each id once;
//! - events arriving meanwhile go to `pending` again and wait for the next batch, so they
//!   are neither lost nor sent twice;
//! - [`CounterState::ack`] with the in-flight id forgets it; nothing else does.
//!
//! Sketches are sent whole (merging is a register-wise max, so resends and overlaps are
//! harmless); a sketch is re-sent after it changes.
//!
//! Persistence: every mutating call returns the [`StorageOp`]s that bring the Durable
//! Object's SQLite tables in line with memory (row upserts, not a whole-state blob: one
//! event costs a handful of small row writes, never a 16 KiB sketch rewrite), and
//! [`CounterState::restore`] rebuilds the state from those tables after a restart.
//! The glue runs all ops of one call with no `await` in between, so Durable Object
//! storage commits them atomically, before the response leaves (output gate).
//!
//! Cardinality: per launch and day at most [`Limits::max_sources_per_day`] distinct
//! sources besides the known ones are kept, admitted by frequency
//! ([`crate::visit::attribution::LabelSlots`] states the rule); the others count as `other`.
//! Mediums and campaigns have slots of their own ([`Limits::max_mediums_per_day`],
//! [`Limits::max_campaigns_per_day`]); an admission is stored, so a restarted shard keeps it.

mod requeue;
pub mod stats;
pub mod storage;

use std::collections::{BTreeMap, BTreeSet};

use launch_edge_proto::batch::{
    batch_id, row_bytes, BatchBudget, BatchTelemetry, CounterDelta, IngestBatch, UniquesSketch,
};
use launch_edge_proto::uniques::VisitorSketch;
use serde::{Deserialize, Serialize};

use crate::count::beacon::ConversionKind;
use crate::pacific;
use crate::visit::attribution::{
    sanitize_label, LabelSlots, DIRECT, KNOWN_CAMPAIGNS, KNOWN_MEDIUMS, OTHER,
};

pub use stats::{DayCounts, LiveStats, SourceStats};
pub use storage::{
    LabelRow, RegisterRow, RestoreError, SqlValue, StorageOp, StoredShard, TotalRow,
};

pub const VIEW: &str = "view";
pub const BOT_VIEW: &str = "bot_view";
pub const CLICK: &str = "click";
pub const REVENUE: &str = "revenue_cents";
/// Revenue in a stated currency is the metric `revenue_cents.<iso code, lowercase>`
/// (`revenue_cents.usd`): amounts in different currencies never share a counter, so
/// nothing downstream can add them up by accident. `revenue_cents` alone is revenue whose
/// sender named no currency: by contract the launch's own.
pub const REVENUE_CURRENCY_PREFIX: &str = "revenue_cents.";

/// The revenue metric of an amount in `currency` (already checked by [`is_currency`]).
pub fn revenue_metric(currency: Option<&str>) -> String {
    match currency {
        Some(code) => format!("{REVENUE_CURRENCY_PREFIX}{code}"),
        None => REVENUE.to_owned(),
    }
}

/// An ISO 4217-shaped code as counters carry it: three lowercase ASCII letters.
pub fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase())
}
/// Prefix the origin routes to `edge_counters` (the worker's operational counters).
pub const EDGE_PREFIX: &str = "edge_";
const EDGE_SOURCE: &str = "edge";

/// `edge_<name>` for a well-formed counter name (lowercase letters, digits, `_`, `.`).
fn edge_metric(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    ok.then(|| format!("{EDGE_PREFIX}{name}"))
}

/// Largest revenue one event may carry, in minor units (either sign, for refunds).
pub const MAX_EVENT_REVENUE_CENTS: i64 = 1_000_000_000_000;

/// What happened, as the metric it increments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum EventKind {
    View,
    BotView,
    Click,
    Conversion(ConversionKind),
}

impl EventKind {
    pub fn metric(self) -> &'static str {
        match self {
            EventKind::View => VIEW,
            EventKind::BotView => BOT_VIEW,
            EventKind::Click => CLICK,
            EventKind::Conversion(kind) => kind.as_str(),
        }
    }

    pub fn parse(metric: &str) -> Option<Self> {
        match metric {
            VIEW => Some(EventKind::View),
            BOT_VIEW => Some(EventKind::BotView),
            CLICK => Some(EventKind::Click),
            other => ConversionKind::parse(other).map(EventKind::Conversion),
        }
    }
}

impl From<EventKind> for String {
    fn from(kind: EventKind) -> String {
        kind.metric().to_owned()
    }
}

impl TryFrom<String> for EventKind {
    type Error = String;
    fn try_from(metric: String) -> Result<Self, String> {
        EventKind::parse(&metric).ok_or_else(|| format!("unknown event kind {metric:?}"))
    }
}

/// One event to count, as the worker hands it to a shard (serde: JSON between them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountedEvent {
    /// The launch slug.
    pub launch: String,
    pub kind: EventKind,
    /// The attribution label (sanitized again here, so any string is safe).
    pub source: String,
    /// The landing's `utm_medium` and `utm_campaign` (sanitized again here too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Minor units; only conversions may carry it.
    #[serde(default)]
    pub revenue_cents: i64,
    /// The currency of `revenue_cents` (three lowercase letters), when the sender named
    /// one; it selects the revenue metric ([`revenue_metric`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// When the worker accepted the event, Unix milliseconds.
    pub at_ms: i64,
    /// The visitor hash (`visitors::visitor_hash`); ignored on bot views.
    #[serde(default)]
    pub visitor: Option<u64>,
    /// Worker counters riding along (`cache_hit`, `cache_stale`, ...): each adds 1 to the
    /// metric `edge_<name>`, which the origin keeps in `edge_counters`, apart from the
    /// funnel; they never enter the live stats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub edge: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountError {
    #[error("event has no launch")]
    MissingLaunch,
    #[error("only conversions carry revenue, at most {MAX_EVENT_REVENUE_CENTS} minor units")]
    BadRevenue,
    #[error("edge counter names are 1 to 48 of a-z, 0-9, '_' and '.'")]
    BadEdgeCounter,
    #[error("a currency is three lowercase letters (ISO 4217)")]
    BadCurrency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Slots per launch and day for sources outside the known ones.
    pub max_sources_per_day: usize,
    /// Slots per launch and day for `utm_medium` values outside the known ones.
    pub max_mediums_per_day: usize,
    /// Slots per launch and day for `utm_campaign` values.
    pub max_campaigns_per_day: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sources_per_day: 50,
            max_mediums_per_day: 20,
            max_campaigns_per_day: 50,
        }
    }
}

/// Validates an event without counting it; returns its edge counters' metric names.
fn check(event: &CountedEvent) -> Result<Vec<String>, CountError> {
    if event.launch.is_empty() {
        return Err(CountError::MissingLaunch);
    }
    let is_conversion = matches!(event.kind, EventKind::Conversion(_));
    if event.revenue_cents.abs() > MAX_EVENT_REVENUE_CENTS
        || (event.revenue_cents != 0 && !is_conversion)
    {
        return Err(CountError::BadRevenue);
    }
    if event.currency.as_deref().is_some_and(|c| !is_currency(c)) {
        return Err(CountError::BadCurrency);
    }
    event
        .edge
        .iter()
        .map(|name| edge_metric(name).ok_or(CountError::BadEdgeCounter))
        .collect()
}

/// Identity of one exact counter row: `(launch, day, minute, source, medium, campaign,
/// metric)`; `medium` and `campaign` are `""` when the visit had none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    pub launch: String,
    pub day: String,
    pub minute: i64,
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub metric: String,
}

impl CounterKey {
    fn delta(&self, value: i64) -> CounterDelta {
        CounterDelta {
            launch: self.launch.clone(),
            day: self.day.clone(),
            minute: self.minute,
            source: self.source.clone(),
            medium: self.medium.clone(),
            campaign: self.campaign.clone(),
            metric: self.metric.clone(),
            value,
        }
    }

    fn of(delta: &CounterDelta) -> Self {
        Self {
            launch: delta.launch.clone(),
            day: delta.day.clone(),
            minute: delta.minute,
            source: delta.source.clone(),
            medium: delta.medium.clone(),
            campaign: delta.campaign.clone(),
            metric: delta.metric.clone(),
        }
    }
}

type DayId = (String, String);

/// What a shard keeps per launch and Pacific day for the live stats.
#[derive(Debug, Clone, PartialEq)]
struct DayState {
    /// `(metric, source)` → value, everything ever counted (flushed or not).
    totals: BTreeMap<(String, String), i64>,
    sources: LabelSlots,
    mediums: LabelSlots,
    campaigns: LabelSlots,
    sketch: VisitorSketch,
    /// Changed since it last went into a batch.
    sketch_dirty: bool,
}

impl Default for DayState {
    fn default() -> Self {
        Self {
            totals: BTreeMap::new(),
            sources: LabelSlots::default(),
            mediums: LabelSlots::first_come(KNOWN_MEDIUMS),
            campaigns: LabelSlots::first_come(KNOWN_CAMPAIGNS),
            sketch: VisitorSketch::default(),
            sketch_dirty: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CounterState {
    shard: String,
    limits: Limits,
    next_seq: u64,
    pending: BTreeMap<CounterKey, i64>,
    in_flight: Option<IngestBatch>,
    days: BTreeMap<DayId, DayState>,
    /// Part of every batch id once set (see [`CounterState::set_incarnation`]).
    incarnation: Option<String>,
    /// When the oldest event of each pending row arrived, for a batch's `oldest_event_ms`.
    arrived: ArrivalHints,
}

/// When the oldest event of each pending row arrived (Unix ms), kept in memory only: a
/// row without a hint (restored after a restart, or put back by a requeue) is taken to
/// be as old as the start of its minute, which is never later than its events. A hint,
/// not state: equality between shards ignores it, as [`CounterState::restore`] cannot
/// rebuild it.
#[derive(Debug, Clone, Default)]
struct ArrivalHints(BTreeMap<CounterKey, i64>);

impl PartialEq for ArrivalHints {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl ArrivalHints {
    /// An event at `at_ms` added to the pending row `key`; `new_row` when it created it.
    fn note(&mut self, key: &CounterKey, at_ms: i64, new_row: bool) {
        if new_row {
            self.0.insert(key.clone(), at_ms);
        } else if let Some(first) = self.0.get_mut(key) {
            *first = (*first).min(at_ms);
        }
    }

    /// Drops the hint of `key`: the row is as old as its minute.
    fn forget(&mut self, key: &CounterKey) {
        self.0.remove(key);
    }

    /// The oldest arrival among `pending` rows.
    fn oldest<'a>(&self, pending: impl Iterator<Item = &'a CounterKey>) -> Option<i64> {
        pending
            .map(|k| {
                self.0
                    .get(k)
                    .copied()
                    .unwrap_or_else(|| k.minute.saturating_mul(1000))
            })
            .min()
    }
}

/// A batch to POST to the origin, and what to persist before sending it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingBatch {
    pub batch: IngestBatch,
    /// Empty when this is a resend of the batch already in flight.
    pub ops: Vec<StorageOp>,
    /// A limit cut this batch short (or it is a resend after a failure): more is waiting,
    /// so the glue sends the next batch right away instead of waiting for a tick.
    pub full: bool,
}

impl CounterState {
    /// An empty shard named `shard` (the Durable Object's name; it prefixes batch ids).
    pub fn new(shard: impl Into<String>, limits: Limits) -> Self {
        Self {
            shard: shard.into(),
            limits,
            next_seq: 1,
            pending: BTreeMap::new(),
            in_flight: None,
            days: BTreeMap::new(),
            incarnation: None,
            arrived: ArrivalHints::default(),
        }
    }

    pub fn shard(&self) -> &str {
        &self.shard
    }

    /// Counts a batch of events, all or none: the first invalid one (its index and why)
    /// refuses the whole batch before anything changes. Returns the storage writes that
    /// make them durable, merged so that each row is written once per batch.
    pub fn apply_all(
        &mut self,
        events: &[CountedEvent],
    ) -> Result<Vec<StorageOp>, (usize, CountError)> {
        for (index, event) in events.iter().enumerate() {
            check(event).map_err(|e| (index, e))?;
        }
        let mut ops = Vec::with_capacity(events.len() * 3);
        for (index, event) in events.iter().enumerate() {
            ops.extend(self.apply(event).map_err(|e| (index, e))?);
        }
        Ok(storage::coalesce(ops))
    }

    /// Counts one event. Returns the storage writes that make it durable.
    pub fn apply(&mut self, event: &CountedEvent) -> Result<Vec<StorageOp>, CountError> {
        let edge_metrics = check(event)?;
        let day = pacific::day_key(pacific::pacific_day_at_ms(event.at_ms));
        let minute = event.at_ms.div_euclid(60_000) * 60;
        let state = self
            .days
            .entry((event.launch.clone(), day.clone()))
            .or_default();
        let source = admit_source(state, &event.source, self.limits);
        let mut ops = Vec::with_capacity(5);
        let mut dims = [String::new(), String::new()];
        for (dim, label) in [Dimension::Medium, Dimension::Campaign]
            .into_iter()
            .zip(&mut dims)
        {
            let (admitted, newly) = dim.admit(state, dim.of(event), self.limits);
            if newly {
                ops.push(StorageOp::AdmitLabel(LabelRow {
                    launch: event.launch.clone(),
                    day: day.clone(),
                    dimension: dim,
                    label: admitted.clone(),
                }));
            }
            *label = admitted;
        }
        let [medium, campaign] = dims;

        let mut metrics = vec![(event.kind.metric().to_owned(), 1)];
        if event.revenue_cents != 0 {
            metrics.push((
                revenue_metric(event.currency.as_deref()),
                event.revenue_cents,
            ));
        }
        for (metric, value) in metrics {
            let key = CounterKey {
                launch: event.launch.clone(),
                day: day.clone(),
                minute,
                source: source.clone(),
                medium: medium.clone(),
                campaign: campaign.clone(),
                metric: metric.clone(),
            };
            self.arrived
                .note(&key, event.at_ms, !self.pending.contains_key(&key));
            let pending = self.pending.entry(key.clone()).or_insert(0);
            *pending = pending.saturating_add(value);
            let total = state.totals.entry((metric, source.clone())).or_insert(0);
            *total = total.saturating_add(value);
            ops.push(StorageOp::AddPending(key.delta(value)));
            ops.push(StorageOp::AddTotal(TotalRow {
                launch: key.launch,
                day: key.day,
                source: key.source,
                metric: key.metric,
                value,
            }));
        }
        for metric in edge_metrics {
            let key = CounterKey {
                launch: event.launch.clone(),
                day: day.clone(),
                minute,
                source: EDGE_SOURCE.to_owned(),
                medium: String::new(),
                campaign: String::new(),
                metric,
            };
            self.arrived
                .note(&key, event.at_ms, !self.pending.contains_key(&key));
            *self.pending.entry(key.clone()).or_insert(0) += 1;
            ops.push(StorageOp::AddPending(key.delta(1)));
        }
        if let (Some(hash), false) = (event.visitor, event.kind == EventKind::BotView) {
            let (index, rank) = VisitorSketch::register_for(hash);
            if state.sketch.raise_register(index, rank) {
                state.sketch_dirty = true;
                ops.push(StorageOp::RaiseRegister(RegisterRow {
                    launch: event.launch.clone(),
                    day,
                    index,
                    rank,
                }));
            }
        }
        Ok(ops)
    }

    /// The batch to send now: the in-flight one if any (identical on every call until
    /// acked), else a new one of every changed sketch and pending rows, within a
    /// [`BatchBudget`] of `max_rows` (so within what the origin accepts, rows of every
    /// kind and bytes), or `None` when there is nothing to send. Sketches go first: there
    /// is one per launch and day, and a busy shard's counter rows must not keep them out.
    pub fn take_batch(&mut self, max_rows: usize) -> Option<OutgoingBatch> {
        if let Some(batch) = &self.in_flight {
            return Some(OutgoingBatch {
                batch: batch.clone(),
                ops: Vec::new(),
                full: true,
            });
        }
        let dirty: Vec<DayId> = self
            .days
            .iter()
            .filter(|(_, state)| state.sketch_dirty)
            .map(|(id, _)| id.clone())
            .collect();
        if self.pending.is_empty() && dirty.is_empty() {
            return None;
        }
        // Every event not yet acknowledged is pending now (nothing is in flight), this
        // batch's rows included.
        let oldest_event_ms = self.arrived.oldest(self.pending.keys());
        let mut budget = BatchBudget::new(max_rows);
        let mut full = false;
        let mut ops = Vec::new();
        let mut uniques = Vec::with_capacity(dirty.len());
        for (launch, day) in dirty {
            let Some(state) = self.days.get_mut(&(launch.clone(), day.clone())) else {
                continue;
            };
            let sketch = UniquesSketch {
                launch: launch.clone(),
                day: day.clone(),
                sketch: state.sketch.to_base64(),
            };
            if !budget.take(row_bytes(&sketch)) {
                full = true;
                break;
            }
            state.sketch_dirty = false;
            uniques.push(sketch);
            ops.push(StorageOp::CleanSketch { launch, day });
        }
        let mut counters = Vec::new();
        for (key, value) in &self.pending {
            let delta = key.delta(*value);
            if full || !budget.take(row_bytes(&delta)) {
                full = true;
                break;
            }
            counters.push(delta);
        }
        for delta in &counters {
            let key = CounterKey::of(delta);
            self.pending.remove(&key);
            self.arrived.forget(&key);
            ops.push(StorageOp::RemovePending(key));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let batch_id = match &self.incarnation {
            Some(incarnation) => batch_id(&self.shard, incarnation, seq),
            None => format!("{}:{seq}", self.shard),
        };
        let batch = IngestBatch {
            batch_id,
            shard: self.shard.clone(),
            counters,
            uniques,
            webhook_events: Vec::new(),
            ph_stats: Vec::new(),
            telemetry: BatchTelemetry {
                oldest_event_ms,
                outbound_budgets: Vec::new(),
            },
        };
        ops.push(StorageOp::SaveBatch {
            seq,
            batch: Box::new(batch.clone()),
        });
        self.in_flight = Some(batch.clone());
        Some(OutgoingBatch { batch, ops, full })
    }

    /// Names this shard's batches `"{shard}:{incarnation}:{seq}"` from now on (see
    /// `launch_edge_proto::batch::batch_id`); the glue passes the incarnation stored in
    /// the object. A batch already in flight keeps its id and bytes.
    pub fn set_incarnation(&mut self, incarnation: impl Into<String>) {
        self.incarnation = Some(incarnation.into());
    }

    /// The origin applied (or had already applied) `batch_id`: forget it. Returns the
    /// storage writes, or `None` when `batch_id` is not the batch in flight (a stale or
    /// foreign ack changes nothing).
    pub fn ack(&mut self, batch_id: &str) -> Option<Vec<StorageOp>> {
        if self.in_flight.as_ref()?.batch_id != batch_id {
            return None;
        }
        self.in_flight = None;
        Some(vec![StorageOp::DeleteBatch {
            batch_id: batch_id.to_owned(),
        }])
    }

    /// The id of the batch awaiting an ack, if any.
    pub fn in_flight_id(&self) -> Option<&str> {
        self.in_flight.as_ref().map(|b| b.batch_id.as_str())
    }

    /// Pending rows not yet in any batch (for alarms: flush again soon when non-zero).
    pub fn pending_rows(&self) -> usize {
        self.pending.len()
    }

    /// True when a batch is in flight, rows are pending or a sketch changed.
    pub fn has_unflushed(&self) -> bool {
        self.in_flight.is_some()
            || !self.pending.is_empty()
            || self.days.values().any(|state| state.sketch_dirty)
    }

    /// This shard's counts for one launch and Pacific day (`YYYY-MM-DD`), everything
    /// counted whether flushed or not. Merge shards with [`DayCounts::merge`].
    pub fn totals(&self, launch: &str, day: &str) -> DayCounts {
        let mut counts = DayCounts::empty(launch, day);
        if let Some(state) = self.days.get(&(launch.to_owned(), day.to_owned())) {
            for ((metric, source), value) in &state.totals {
                counts.add(metric, source, *value);
            }
            counts.uniques = state.sketch.to_base64();
        }
        counts
    }

    /// Drops the live-stats state of days before `day` (for the rollover cron), except
    /// a day not drained yet: its sketch changed since the last batch, or it has pending
    /// rows. Pending rows themselves are never dropped.
    pub fn forget_days_before(&mut self, day: &str) -> Vec<StorageOp> {
        let undrained: BTreeSet<(&str, &str)> = self
            .pending
            .keys()
            .map(|k| (k.launch.as_str(), k.day.as_str()))
            .collect();
        let old: Vec<DayId> = self
            .days
            .iter()
            .filter(|((l, d), state)| {
                d.as_str() < day
                    && !state.sketch_dirty
                    && !undrained.contains(&(l.as_str(), d.as_str()))
            })
            .map(|(id, _)| id.clone())
            .collect();
        old.into_iter()
            .map(|(launch, day)| {
                self.days.remove(&(launch.clone(), day.clone()));
                StorageOp::ForgetDay { launch, day }
            })
            .collect()
    }
}

/// The label an event's source is counted under: sanitized, and `other` unless the
/// day's [`SourceSlots`] admit it.
fn admit_source(state: &mut DayState, raw: &str, limits: Limits) -> String {
    let label = sanitize_label(raw).unwrap_or_else(|| DIRECT.to_owned());
    if state.sources.admit(&label, limits.max_sources_per_day) {
        label
    } else {
        OTHER.to_owned()
    }
}

/// A counter dimension besides the source, with slots of its own per launch and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Medium,
    Campaign,
}

impl Dimension {
    /// Its name in storage (`counter_labels.dimension`).
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Medium => "medium",
            Dimension::Campaign => "campaign",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "medium" => Some(Dimension::Medium),
            "campaign" => Some(Dimension::Campaign),
            _ => None,
        }
    }

    fn of(self, event: &CountedEvent) -> Option<&str> {
        match self {
            Dimension::Medium => event.medium.as_deref(),
            Dimension::Campaign => event.campaign.as_deref(),
        }
    }

    fn slots(self, state: &mut DayState) -> &mut LabelSlots {
        match self {
            Dimension::Medium => &mut state.mediums,
            Dimension::Campaign => &mut state.campaigns,
        }
    }

    /// The label `raw` counts under (`""` for none, `other` past the day's slots), and
    /// whether this hit is the one that took its slot.
    fn admit(self, state: &mut DayState, raw: Option<&str>, limits: Limits) -> (String, bool) {
        let Some(label) = raw.and_then(sanitize_label) else {
            return (String::new(), false);
        };
        let slots = match self {
            Dimension::Medium => limits.max_mediums_per_day,
            Dimension::Campaign => limits.max_campaigns_per_day,
        };
        match self.slots(state).admit_new(&label, slots) {
            Some(newly) => (label, newly),
            None => (OTHER.to_owned(), false),
        }
    }
}

/// The shard (0..shards) an event goes to: by visitor hash, so one visitor always lands
/// on the same shard, or by a random `u64` for events without one. Uses the low 32
/// bits, which the sketch's register index (the top 14 bits) does not.
pub fn shard_for(hash: u64, shards: u32) -> u32 {
    let shards = u64::from(shards.max(1));
    (((hash & 0xFFFF_FFFF) * shards) >> 32) as u32
}

/// The Durable Object name of shard `index` of `launch` (also the batch id prefix).
pub fn shard_name(launch: &str, index: u32) -> String {
    format!("{launch}/{index}")
}

#[cfg(test)]
mod tests;
