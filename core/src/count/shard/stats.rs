//! Live stats: one shard's counts for a launch and day, merged over shards, summarized.
//!
//! Counts add exactly across shards; unique visitors cannot be added (one visitor may
//! have touched two shards), so each shard returns its sketch and the merge takes their
//! union before estimating. [`DayCounts`] is what a shard answers (serde: JSON from the
//! Durable Object to the worker); [`LiveStats`] is what `GET /admin/launches/:slug/stats`
//! shows.

use std::collections::BTreeMap;

use launch_edge_proto::uniques::{SketchError, VisitorSketch, STANDARD_ERROR};
use serde::{Deserialize, Serialize};

use super::{BOT_VIEW, CLICK, REVENUE, REVENUE_CURRENCY_PREFIX, VIEW};

/// One shard's (or several merged shards') counts for a launch and Pacific day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCounts {
    pub launch: String,
    pub day: String,
    /// metric → source → value.
    pub counts: BTreeMap<String, BTreeMap<String, i64>>,
    /// The unique-visitor sketch, base64 of `VisitorSketch::to_bytes`.
    pub uniques: String,
}

impl DayCounts {
    pub fn empty(launch: &str, day: &str) -> Self {
        Self {
            launch: launch.to_owned(),
            day: day.to_owned(),
            counts: BTreeMap::new(),
            uniques: VisitorSketch::new().to_base64(),
        }
    }

    pub(super) fn add(&mut self, metric: &str, source: &str, value: i64) {
        let cell = self
            .counts
            .entry(metric.to_owned())
            .or_default()
            .entry(source.to_owned())
            .or_insert(0);
        *cell = cell.saturating_add(value);
    }

    /// Folds another shard's counts for the same launch and day into these.
    pub fn merge(&mut self, other: &DayCounts) -> Result<(), SketchError> {
        let mut sketch = VisitorSketch::from_base64(&self.uniques)?;
        sketch.merge(&VisitorSketch::from_base64(&other.uniques)?);
        for (metric, sources) in &other.counts {
            for (source, value) in sources {
                self.add(metric, source, *value);
            }
        }
        self.uniques = sketch.to_base64();
        Ok(())
    }

    /// Merges the answers of all shards of a launch for one day.
    pub fn merge_all(launch: &str, day: &str, shards: &[DayCounts]) -> Result<Self, SketchError> {
        let mut merged = DayCounts::empty(launch, day);
        for shard in shards {
            merged.merge(shard)?;
        }
        Ok(merged)
    }

    /// The summary shown by the stats endpoint.
    pub fn stats(&self) -> Result<LiveStats, SketchError> {
        let unique_visitors = VisitorSketch::from_base64(&self.uniques)?.estimate();
        let mut stats = LiveStats {
            launch: self.launch.clone(),
            day: self.day.clone(),
            unique_visitors,
            unique_visitors_relative_error: STANDARD_ERROR,
            ..LiveStats::default()
        };
        for (metric, sources) in &self.counts {
            for (source, &value) in sources {
                stats.totals.record(metric, value);
                stats
                    .by_source
                    .entry(source.clone())
                    .or_default()
                    .record(metric, value);
            }
        }
        stats.views = stats.totals.views;
        stats.bot_views = stats.totals.bot_views;
        stats.clicks = stats.totals.clicks;
        stats.conversions = stats.totals.conversions.clone();
        stats.revenue_cents = stats.totals.revenue_cents;
        stats.revenue_by_currency = stats.totals.revenue_by_currency.clone();
        Ok(stats)
    }
}

/// Counts of one source (or of all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceStats {
    pub views: i64,
    pub bot_views: i64,
    pub clicks: i64,
    /// Conversion kind → count.
    pub conversions: BTreeMap<String, i64>,
    /// Revenue whose sender named no currency (by contract the launch's own).
    pub revenue_cents: i64,
    /// Revenue by the currency its sender named (`usd` → minor units); currencies are
    /// never added together.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revenue_by_currency: BTreeMap<String, i64>,
}

impl SourceStats {
    fn record(&mut self, metric: &str, value: i64) {
        let slot = match metric {
            VIEW => &mut self.views,
            BOT_VIEW => &mut self.bot_views,
            CLICK => &mut self.clicks,
            REVENUE => &mut self.revenue_cents,
            m if m.starts_with(REVENUE_CURRENCY_PREFIX) => self
                .revenue_by_currency
                .entry(m[REVENUE_CURRENCY_PREFIX.len()..].to_owned())
                .or_insert(0),
            kind => self.conversions.entry(kind.to_owned()).or_insert(0),
        };
        *slot = slot.saturating_add(value);
    }
}

/// The live stats of a launch for one Pacific day, over all shards.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LiveStats {
    pub launch: String,
    pub day: String,
    pub views: i64,
    /// HyperLogLog estimate of distinct human visitors.
    pub unique_visitors: u64,
    /// Relative standard error of `unique_visitors` (~0.81%).
    pub unique_visitors_relative_error: f64,
    pub bot_views: i64,
    pub clicks: i64,
    pub conversions: BTreeMap<String, i64>,
    /// Revenue with no currency named; per named currency in `revenue_by_currency`.
    pub revenue_cents: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revenue_by_currency: BTreeMap<String, i64>,
    pub by_source: BTreeMap<String, SourceStats>,
    #[serde(skip)]
    totals: SourceStats,
}
