//! The ingest batch: what a counter shard sends to the origin's `POST /ingest/batch`.
//!
//! A batch id is deterministic (the shard's name and its flush sequence number), so a
//! resend after a lost response is recognised by the origin and applied no second time.
//! The origin applies a batch in one Postgres transaction, or not at all.

use serde::{Deserialize, Serialize};

/// Upper bound on rows in one batch; shards split larger drains.
pub const MAX_BATCH_ROWS: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch {
    /// `"{shard}:{sequence}"`, unique per shard and stable across resends.
    pub batch_id: String,
    /// The Durable Object (or other producer) that drained these deltas.
    pub shard: String,
    #[serde(default)]
    pub counters: Vec<CounterDelta>,
    #[serde(default)]
    pub uniques: Vec<UniquesSketch>,
    #[serde(default)]
    pub webhook_events: Vec<WebhookEventRecord>,
    /// The launch monitor's Product Hunt observations. Omitted when empty, so batches
    /// without any keep their exact bytes (shards resend stored batches verbatim).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ph_stats: Vec<PhPostStat>,
}

/// One observation of a launch's Product Hunt post, stored once per `(launch, observed_at)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhPostStat {
    pub launch: String,
    pub observed_at_ms: i64,
    pub votes: i64,
    pub comments: i64,
    pub featured_at_ms: Option<i64>,
}

/// An increment of one metric for one launch, Pacific day, minute and source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    pub launch: String,
    /// The Pacific launch day, `YYYY-MM-DD`.
    pub day: String,
    /// Start of the UTC minute, Unix seconds (a multiple of 60).
    pub minute: i64,
    /// Attribution source label, e.g. `producthunt`, `direct`, `twitter.com`.
    pub source: String,
    /// `view`, `bot_view`, `click`, a conversion kind (`signup`, `purchase`, ...), or
    /// `revenue_cents` (value in minor units).
    pub metric: String,
    pub value: i64,
}

/// A unique-visitor sketch for one launch and Pacific day, merged by the origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UniquesSketch {
    pub launch: String,
    pub day: String,
    /// The serialized sketch, base64 (see `launch_edge_proto::uniques` when present).
    pub sketch: String,
}

/// A verified webhook event, stored by the origin once per `(source, event_id)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEventRecord {
    /// The configured source name (`/webhooks/:source`).
    pub source: String,
    /// The scheme's event id, or a hash of the signed content where the scheme has none.
    pub event_id: String,
    /// e.g. `checkout.session.completed`, `conversion`.
    pub event_type: String,
    /// Unix milliseconds at which the worker accepted the event.
    pub received_at_ms: i64,
    pub payload: serde_json::Value,
}

/// The origin's answer to an ingest batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    pub batch_id: String,
    /// False when the batch id had been applied before (a resend): nothing changed.
    pub applied: bool,
}
