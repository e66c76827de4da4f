//! The ingest batch: what a counter shard sends to the origin's `POST /ingest/batch`.
//!
//! A batch id is deterministic (the producer's name, its incarnation and its flush
//! sequence number, see [`batch_id`]), so a resend after a lost response is recognised by
//! the origin and applied no second time. The origin applies a batch in one Postgres
//! transaction, or not at all.
//!
//! Size: producer and consumer share one definition of a batch's size ([`IngestBatch::rows`]
//! and [`BatchBudget`]), so a producer never cuts a batch the origin refuses as too large.

use serde::{Deserialize, Serialize};

/// Upper bound on rows of every kind (counters, sketches, webhook events, PH stats) in one
/// batch; producers split larger drains with a [`BatchBudget`].
pub const MAX_BATCH_ROWS: usize = 5_000;
/// Upper bound on a serialized batch. Below the origin's limit on a signed body, so a batch
/// within both bounds is never refused for its size by anything on the way.
pub const MAX_BATCH_BYTES: usize = 3 * 1024 * 1024;
/// Longest batch id and producer name the origin stores.
pub const MAX_BATCH_ID_LEN: usize = 200;
/// What a batch's envelope (ids, field names, brackets) may take besides its rows: two ids
/// of at most [`MAX_BATCH_ID_LEN`] and the fixed JSON around them.
const ENVELOPE_BYTES: usize = 2 * MAX_BATCH_ID_LEN + 256;

/// The id of batch `seq` of `producer` in `incarnation`: `"{producer}:{incarnation}:{seq}"`.
/// The incarnation is random, chosen once when the producer's storage is first used, so a
/// producer whose state was wiped, or the same name in another environment writing to the
/// same Postgres, never reuses an id the origin has already applied (and would skip).
pub fn batch_id(producer: &str, incarnation: &str, seq: u64) -> String {
    format!("{producer}:{incarnation}:{seq}")
}

/// A new incarnation id from `draw` (32 random bits a call): 128 bits as 32 hex digits.
pub fn new_incarnation(mut draw: impl FnMut() -> u32) -> String {
    (0..4).map(|_| format!("{:08x}", draw())).collect()
}

/// Rows of a batch as the origin counts them against [`MAX_BATCH_ROWS`].
pub fn batch_rows(
    counters: usize,
    uniques: usize,
    webhook_events: usize,
    ph_stats: usize,
) -> usize {
    counters + uniques + webhook_events + ph_stats
}

/// Bytes one row adds to a serialized batch (its JSON and a separating comma).
pub fn row_bytes<T: Serialize>(row: &T) -> usize {
    // Rows are plain strings, integers and JSON values: serializing cannot fail.
    serde_json::to_vec(row).map_or(0, |v| v.len()) + 1
}

/// What a producer may still add to the batch it is cutting: rows and bytes left under
/// [`MAX_BATCH_ROWS`] and [`MAX_BATCH_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchBudget {
    rows_left: usize,
    bytes_left: usize,
    taken: usize,
}

impl BatchBudget {
    /// A budget of at most `max_rows` rows (clamped to 1..=[`MAX_BATCH_ROWS`]).
    pub fn new(max_rows: usize) -> Self {
        Self {
            rows_left: max_rows.clamp(1, MAX_BATCH_ROWS),
            bytes_left: MAX_BATCH_BYTES - ENVELOPE_BYTES,
            taken: 0,
        }
    }

    /// Takes a row of `bytes` (see [`row_bytes`]) if it fits; false (and nothing taken)
    /// when it would exceed either bound.
    pub fn take(&mut self, bytes: usize) -> bool {
        if self.rows_left == 0 || bytes > self.bytes_left {
            return false;
        }
        self.rows_left -= 1;
        self.bytes_left -= bytes;
        self.taken += 1;
        true
    }

    /// Rows taken so far.
    pub fn taken(&self) -> usize {
        self.taken
    }

    /// No row at all fits any more.
    pub fn is_spent(&self) -> bool {
        self.rows_left == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "FlatBatch")]
pub struct IngestBatch {
    /// See [`batch_id`]: unique per producer and incarnation, stable across resends.
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
    /// What the producer reports about itself, at the top level of the batch JSON
    /// (`oldest_event_ms`, `outbound_budgets`). Each field is omitted when empty, so a
    /// batch without telemetry keeps its exact bytes; it is cut once with the batch and
    /// resent with it verbatim.
    #[serde(flatten)]
    pub telemetry: BatchTelemetry,
}

/// [`IngestBatch`] as read: the same JSON, with the telemetry's fields named at the top
/// level instead of `#[serde(flatten)]`, which would make serde buffer every field of the
/// batch into an intermediate tree before reading it (twice the code for every row type
/// in the worker's WASM, and a second pass over each stored batch). Unknown fields are
/// ignored, as they were.
#[derive(Deserialize)]
struct FlatBatch {
    batch_id: String,
    shard: String,
    #[serde(default)]
    counters: Vec<CounterDelta>,
    #[serde(default)]
    uniques: Vec<UniquesSketch>,
    #[serde(default)]
    webhook_events: Vec<WebhookEventRecord>,
    #[serde(default)]
    ph_stats: Vec<PhPostStat>,
    #[serde(default)]
    oldest_event_ms: Option<i64>,
    #[serde(default)]
    outbound_budgets: Vec<OutboundBudget>,
}

impl From<FlatBatch> for IngestBatch {
    fn from(flat: FlatBatch) -> Self {
        IngestBatch {
            batch_id: flat.batch_id,
            shard: flat.shard,
            counters: flat.counters,
            uniques: flat.uniques,
            webhook_events: flat.webhook_events,
            ph_stats: flat.ph_stats,
            telemetry: BatchTelemetry {
                oldest_event_ms: flat.oldest_event_ms,
                outbound_budgets: flat.outbound_budgets,
            },
        }
    }
}

impl IngestBatch {
    /// Rows the origin counts against [`MAX_BATCH_ROWS`] (every kind, see [`batch_rows`]).
    pub fn rows(&self) -> usize {
        batch_rows(
            self.counters.len(),
            self.uniques.len(),
            self.webhook_events.len(),
            self.ph_stats.len(),
        )
    }

    /// Whether the origin accepts a batch of this size serialized as `body_len` bytes.
    pub fn within_limits(&self, body_len: usize) -> bool {
        self.rows() <= MAX_BATCH_ROWS && body_len <= MAX_BATCH_BYTES
    }
}

/// What a producer reports about itself beside its rows: read by the origin from the same
/// batch body (the fields sit at the top level of the batch JSON, next to `batch_id`),
/// for `/metrics` only. Both fields may be absent, so batches from producers that do not
/// send them, and batches stored before they existed, still parse.
///
/// The origin exposes `oldest_event_ms` as `launch_edge_drain_lag_seconds` (the batch's
/// arrival time minus it) and each budget as
/// `launch_edge_outbound_budget_remaining_ratio{target}` (`remaining / limit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchTelemetry {
    /// Unix milliseconds of the oldest event the producer had not yet seen acknowledged
    /// when it cut this batch (this batch's own rows included). A resend carries the
    /// value of its first send: the event is still undrained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_event_ms: Option<i64>,
    /// The producer's outbound rate budgets as they stood when it cut this batch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_budgets: Vec<OutboundBudget>,
}

/// One outbound rate budget: calls left of `limit` in the current window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundBudget {
    /// `producthunt`, `discord`, `slack`, `webhook`; the origin labels any other `other`.
    pub target: String,
    pub remaining: i64,
    pub limit: i64,
}

/// The `target` values of [`OutboundBudget`] the origin labels as themselves.
pub const OUTBOUND_TARGETS: [&str; 4] = ["producthunt", "discord", "slack", "webhook"];

/// One observation of a launch's Product Hunt post, stored once per `(launch, observed_at)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhPostStat {
    pub launch: String,
    pub observed_at_ms: i64,
    pub votes: i64,
    pub comments: i64,
    pub featured_at_ms: Option<i64>,
}

/// An increment of one metric for one launch, Pacific day, minute, source, utm medium and
/// utm campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterDelta {
    pub launch: String,
    /// The Pacific launch day, `YYYY-MM-DD`.
    pub day: String,
    /// Start of the UTC minute, Unix seconds (a multiple of 60).
    pub minute: i64,
    /// Attribution source label, e.g. `producthunt`, `direct`, `twitter.com`.
    pub source: String,
    /// The landing's `utm_medium` label, `""` when it had none. Omitted when empty, so a
    /// delta without one keeps the bytes it had before the field existed (stored batches
    /// are resent verbatim) and older producers' deltas still parse.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub medium: String,
    /// The landing's `utm_campaign` label, `""` when it had none (omitted like `medium`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub campaign: String,
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
    /// Rows of this batch the origin could not store and kept as dead letters instead
    /// (the rest landed); see [`OriginDeadLetter`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dead_letters: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A row the origin could not store, kept in its dead-letter table with the reason (see
/// `GET /ingest/dead-letters`); the rest of its batch was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginDeadLetter {
    pub id: i64,
    /// The batch that carried the row, and its producer.
    pub batch_id: String,
    pub producer: String,
    /// `counter`, `uniques`, `webhook_event` or `ph_stat`.
    pub kind: String,
    /// A stable code (`payload_contains_nul`, `invalid_launch`, `database:22P05`...).
    pub reason: String,
    /// The row as the worker sent it (JSON text; it may be what Postgres refused to hold).
    pub row: String,
    pub created_at_ms: i64,
    /// Set once a requeue applied the row.
    pub requeued_at_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter(i: i64) -> CounterDelta {
        CounterDelta {
            launch: "acme".into(),
            day: "2026-12-01".into(),
            minute: i * 60,
            source: "direct".into(),
            metric: "view".into(),
            value: 1,
            ..CounterDelta::default()
        }
    }

    #[test]
    fn a_delta_without_medium_or_campaign_keeps_its_old_bytes_and_one_with_them_round_trips() {
        let old = r#"{"launch":"acme","day":"2026-12-01","minute":60,"source":"direct","metric":"view","value":1}"#;
        let parsed: CounterDelta = serde_json::from_str(old).unwrap();
        assert_eq!(parsed, counter(1));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), old);
        let utm = CounterDelta {
            medium: "email".into(),
            campaign: "dec-launch".into(),
            ..counter(1)
        };
        let text = serde_json::to_string(&utm).unwrap();
        assert!(
            text.contains(r#""medium":"email","campaign":"dec-launch""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<CounterDelta>(&text).unwrap(), utm);
    }

    #[test]
    fn rows_count_every_kind_of_row_the_way_the_origin_does() {
        let batch = IngestBatch {
            batch_id: batch_id("acme/0", "00ff", 3),
            shard: "acme/0".into(),
            counters: vec![counter(1), counter(2)],
            uniques: vec![UniquesSketch {
                launch: "acme".into(),
                day: "2026-12-01".into(),
                sketch: String::new(),
            }],
            webhook_events: Vec::new(),
            ph_stats: vec![PhPostStat {
                launch: "acme".into(),
                observed_at_ms: 1,
                votes: 1,
                comments: 0,
                featured_at_ms: None,
            }],
            telemetry: BatchTelemetry::default(),
        };
        assert_eq!(batch.batch_id, "acme/0:00ff:3");
        assert_eq!(batch.rows(), 4);
        assert!(batch.within_limits(MAX_BATCH_BYTES));
        assert!(!batch.within_limits(MAX_BATCH_BYTES + 1));
    }

    #[test]
    fn a_budget_stops_at_the_row_bound_and_at_the_byte_bound() {
        let mut rows = BatchBudget::new(usize::MAX);
        let small = row_bytes(&counter(1));
        while rows.take(small) {}
        assert_eq!(rows.taken(), MAX_BATCH_ROWS);
        assert!(rows.is_spent());

        let mut bytes = BatchBudget::new(10);
        assert!(
            !bytes.take(MAX_BATCH_BYTES),
            "one row as large as the limit never fits"
        );
        assert!(bytes.take(MAX_BATCH_BYTES / 2));
        assert!(
            !bytes.take(MAX_BATCH_BYTES / 2),
            "the envelope needs room too"
        );
        assert!(bytes.take(small));
        assert_eq!(bytes.taken(), 2);
    }

    #[test]
    fn a_batch_cut_within_a_budget_is_within_the_origins_limits() {
        let mut budget = BatchBudget::new(MAX_BATCH_ROWS);
        let mut counters = Vec::new();
        let long = |i: i64| CounterDelta {
            source: "s".repeat(200),
            launch: "l".repeat(64),
            ..counter(i)
        };
        let mut i = 0;
        while budget.take(row_bytes(&long(i))) {
            counters.push(long(i));
            i += 1;
        }
        let batch = IngestBatch {
            batch_id: "b".repeat(MAX_BATCH_ID_LEN),
            shard: "s".repeat(MAX_BATCH_ID_LEN),
            counters,
            uniques: Vec::new(),
            webhook_events: Vec::new(),
            ph_stats: Vec::new(),
            telemetry: BatchTelemetry::default(),
        };
        let body = serde_json::to_vec(&batch).unwrap();
        assert!(
            batch.within_limits(body.len()),
            "{} rows, {} bytes",
            batch.rows(),
            body.len()
        );
    }

    #[test]
    fn batch_telemetry_is_optional_and_read_from_the_top_level_of_a_batch() {
        let old = r#"{"batch_id":"a:1:1","shard":"a","counters":[]}"#;
        assert_eq!(
            serde_json::from_str::<BatchTelemetry>(old).unwrap(),
            BatchTelemetry::default()
        );
        assert!(serde_json::from_str::<IngestBatch>(old).is_ok());
        let new = r#"{"batch_id":"a:1:1","shard":"a","oldest_event_ms":1764576000000,
            "outbound_budgets":[{"target":"discord","remaining":3,"limit":30}]}"#;
        let t: BatchTelemetry = serde_json::from_str(new).unwrap();
        assert_eq!(t.oldest_event_ms, Some(1_764_576_000_000));
        assert_eq!(t.outbound_budgets[0].target, "discord");
        let batch: IngestBatch = serde_json::from_str(new).unwrap();
        assert_eq!(batch.telemetry, t);
        let later = r#"{"batch_id":"a:1:1","shard":"a","a_field_of_a_later_version":[1]}"#;
        assert!(
            serde_json::from_str::<IngestBatch>(later).is_ok(),
            "unknown fields are ignored"
        );
        for broken in [
            r#"{"shard":"a"}"#,
            r#"{"batch_id":"a:1:1","shard":"a","oldest_event_ms":"soon"}"#,
            r#"{"batch_id":"a:1:1","batch_id":"a:1:2","shard":"a"}"#,
        ] {
            assert!(
                serde_json::from_str::<IngestBatch>(broken).is_err(),
                "{broken}"
            );
        }
        assert_eq!(
            serde_json::to_string(&BatchTelemetry::default()).unwrap(),
            "{}"
        );
    }

    fn plain_batch() -> IngestBatch {
        IngestBatch {
            batch_id: batch_id("acme/0", "00ff", 3),
            shard: "acme/0".into(),
            counters: vec![counter(1)],
            uniques: Vec::new(),
            webhook_events: Vec::new(),
            ph_stats: Vec::new(),
            telemetry: BatchTelemetry::default(),
        }
    }

    #[test]
    fn a_batch_without_telemetry_keeps_the_bytes_it_had_before_telemetry_existed() {
        let body = serde_json::to_string(&plain_batch()).unwrap();
        assert_eq!(
            body,
            r#"{"batch_id":"acme/0:00ff:3","shard":"acme/0","counters":[{"launch":"acme","day":"2026-12-01","minute":60,"source":"direct","metric":"view","value":1}],"uniques":[],"webhook_events":[]}"#
        );
        let back: IngestBatch = serde_json::from_str(&body).unwrap();
        assert_eq!(back, plain_batch());
        assert_eq!(back.telemetry, BatchTelemetry::default());
    }

    #[test]
    fn a_batch_with_telemetry_carries_it_at_the_top_level_and_reads_back_the_same() {
        let batch = IngestBatch {
            telemetry: BatchTelemetry {
                oldest_event_ms: Some(1_764_576_000_123),
                outbound_budgets: vec![OutboundBudget {
                    target: "producthunt".into(),
                    remaining: 5_000,
                    limit: 6_250,
                }],
            },
            ..plain_batch()
        };
        let body = serde_json::to_string(&batch).unwrap();
        let top: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(top["oldest_event_ms"], 1_764_576_000_123_i64);
        assert_eq!(top["outbound_budgets"][0]["target"], "producthunt");
        assert_eq!(top["outbound_budgets"][0]["remaining"], 5_000);
        assert_eq!(top["outbound_budgets"][0]["limit"], 6_250);
        assert!(top.get("telemetry").is_none(), "flattened, not nested");
        let back: IngestBatch = serde_json::from_str(&body).unwrap();
        assert_eq!(back, batch);
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            body,
            "resent verbatim"
        );

        let only_age = IngestBatch {
            telemetry: BatchTelemetry {
                oldest_event_ms: Some(7),
                outbound_budgets: Vec::new(),
            },
            ..plain_batch()
        };
        let body = serde_json::to_string(&only_age).unwrap();
        assert!(
            body.ends_with(r#""webhook_events":[],"oldest_event_ms":7}"#),
            "{body}"
        );
        assert_eq!(
            serde_json::from_str::<IngestBatch>(&body).unwrap(),
            only_age
        );
    }

    #[test]
    fn incarnations_are_128_random_bits_in_hex() {
        let mut n = 0u32;
        let id = new_incarnation(|| {
            n += 1;
            n
        });
        assert_eq!(id, "00000001000000020000000300000004");
        assert_ne!(new_incarnation(|| 7), new_incarnation(|| 8));
    }
}
