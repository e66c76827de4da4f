//! The webhook inbox, the pure half: which Durable Object holds an event, what the worker
//! hands it, how a conversion becomes a counted event with an idempotency key, and how
//! pending events are cut into ingest batches. The glue is `crate::webhook_inbox`.
//!
//! Placement: an event lives in inbox `inbox/{source}/{i}`, `i` a stable hash of its id
//! over [`INBOX_SHARDS`]. Every delivery of one event (retries, concurrent duplicates)
//! lands in the same object, which is what dedupe needs; different events spread over a
//! few objects, so a launch-day burst of checkouts is not serialized through one object
//! that also waits on a counter shard per event. `INBOX_SHARDS` must never change while
//! ids are remembered (a change moves ids to other objects for a whole dedupe window).
//! A launch slug cannot contain `/`, so these names (and their batch ids
//! `inbox/{source}/{i}:{seq}`) never collide with counter shards (`{launch}/{i}`).

use launch_edge_proto::batch::{BatchTelemetry, IngestBatch, WebhookEventRecord, MAX_BATCH_ROWS};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Conversion, WebhookError};
use crate::count::beacon::ConversionKind;
use crate::count::shard::{CountedEvent, EventKind};

/// Inbox objects per source (fixed: see the module header).
pub const INBOX_SHARDS: u64 = 4;
/// The attribution source of a conversion whose event names none.
pub const DEFAULT_SOURCE: &str = "webhook";
/// Longest event id the origin stores; longer ids are stored as their hash.
pub const MAX_ORIGIN_EVENT_ID_LEN: usize = 200;
/// Events per ingest batch, and the bytes they may total: a body up to
/// `MAX_BODY_BYTES` each, far below the origin's 4 MiB limit on a signed body.
pub const MAX_BATCH_EVENTS: usize = 100;
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;
/// The worker counter (`edge_webhook_inbox_dead_letter`) bumped for every batch of
/// webhook events an inbox sets aside because the origin refused it.
pub const DEAD_LETTER_COUNTER: &str = "webhook_inbox_dead_letter";

/// What the worker hands the inbox for one verified event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub record: WebhookEventRecord,
    /// The conversion to count before the event is recorded, if it is one.
    #[serde(default)]
    pub count: Option<CountedEvent>,
    /// The source's dedupe window: how long the inbox remembers this id (absent: the
    /// default). The worker parses the configuration, so the inbox never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_window_ms: Option<i64>,
}

/// The inbox's answer: `duplicate` when the id was already delivered (applied no second time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxAnswer {
    pub duplicate: bool,
}

fn hash64(parts: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The inbox object (and batch-id prefix) that owns `(source, event_id)`.
pub fn inbox_name(source: &str, event_id: &str) -> String {
    let index = hash64(&[source, event_id]) % INBOX_SHARDS;
    format!("inbox/{source}/{index}")
}

/// The counter shard's idempotency key for this event's conversion: a hash, so any id
/// (a Stripe id is any JSON string) fits an ASCII header and a fixed-size row.
pub fn count_id(source: &str, event_id: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [source, event_id] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("webhook:{}", hex::encode(hasher.finalize()))
}

/// Picks the counter shard: the same for every delivery of one event, so a retried count
/// meets the shard that remembers its idempotency key.
pub fn count_shard_key(source: &str, event_id: &str) -> u64 {
    hash64(&["count", source, event_id])
}

/// The event id as the origin stores it: unchanged up to its column's limit, else a
/// stable hash (so the origin's `(source, event_id)` dedupe still holds).
pub fn origin_event_id(event_id: &str) -> String {
    if event_id.len() <= MAX_ORIGIN_EVENT_ID_LEN {
        return event_id.to_owned();
    }
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(event_id.as_bytes()))
    )
}

/// The counted event of a webhook conversion. Its kind must be one the counters know
/// (`signup`, `trial`, `lead`, `subscribe`, `purchase`): another is a 400 naming `kind`,
/// not a silent drop.
pub fn counted_event(conversion: &Conversion, at_ms: i64) -> Result<CountedEvent, WebhookError> {
    let kind =
        ConversionKind::parse(&conversion.kind).ok_or(WebhookError::InvalidConversion("kind"))?;
    Ok(CountedEvent {
        launch: conversion.launch.to_string(),
        kind: EventKind::Conversion(kind),
        source: conversion
            .source
            .clone()
            .unwrap_or_else(|| DEFAULT_SOURCE.to_owned()),
        medium: conversion.medium.clone(),
        campaign: conversion.campaign.clone(),
        revenue_cents: conversion.revenue_cents,
        currency: conversion.currency.clone(),
        at_ms,
        visitor: None,
        edge: Vec::new(),
    })
}

/// Table definitions of the inbox (the dedupe table is a `RecentIds`).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS inbox_pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
     record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox_batches (batch_id TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS inbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
];
pub const INSERT_PENDING: &str = "INSERT INTO inbox_pending (record) VALUES (?)";
/// Columns: seq, record. Oldest first; the glue reads at most [`MAX_BATCH_EVENTS`].
pub const SELECT_PENDING: &str = "SELECT seq, record FROM inbox_pending ORDER BY seq LIMIT 100";
pub const DELETE_PENDING_UP_TO: &str = "DELETE FROM inbox_pending WHERE seq <= ?";
/// Columns: batch_id, body (the in-flight batch; at most one row).
pub const SELECT_BATCH: &str = "SELECT batch_id, body FROM inbox_batches";
pub const SAVE_BATCH: &str = "INSERT INTO inbox_batches (batch_id, body) VALUES (?, ?)";
pub const DELETE_BATCH: &str = "DELETE FROM inbox_batches WHERE batch_id = ?";
/// Columns: value. Keys: `name`, `next_seq`, `dedupe_window_ms` (the source's window, as
/// last delivered, so an alarm purges with it).
pub const SELECT_META: &str = "SELECT value FROM inbox_meta WHERE key = ?";
pub const SET_META: &str = "INSERT INTO inbox_meta (key, value) VALUES (?, ?) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// A new batch cut from the oldest pending rows.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedBatch {
    pub batch: IngestBatch,
    /// The serialized batch, stored as the in-flight body and resent byte for byte.
    pub body: String,
    /// Delete pending rows up to this sequence number (they are in the batch now).
    pub last_row: i64,
}

/// Cuts batch `seq` of `inbox` from pending `(seq, record JSON)` rows, oldest first: at
/// most [`MAX_BATCH_EVENTS`] rows and [`MAX_BATCH_BYTES`] of records, but always at least
/// one row so a large event cannot stall the inbox. `None` when nothing is pending.
/// A row that is not a valid record (never written by this code) is skipped, not sent.
/// The batch's `oldest_event_ms` is its oldest event's arrival: the rows are the oldest
/// pending ones and nothing is in flight while a batch is cut, so no unacknowledged
/// event is older.
pub fn plan_batch(inbox: &str, seq: u64, rows: &[(i64, String)]) -> Option<PlannedBatch> {
    let mut events = Vec::new();
    let mut bytes = 0;
    let mut last_row = None;
    for (row, record) in rows.iter().take(MAX_BATCH_EVENTS.min(MAX_BATCH_ROWS)) {
        if last_row.is_some() && bytes + record.len() > MAX_BATCH_BYTES {
            break;
        }
        bytes += record.len();
        last_row = Some(*row);
        if let Ok(record) = serde_json::from_str::<WebhookEventRecord>(record) {
            events.push(record);
        }
    }
    let batch = IngestBatch {
        batch_id: format!("{inbox}:{seq}"),
        shard: inbox.to_owned(),
        counters: Vec::new(),
        uniques: Vec::new(),
        telemetry: BatchTelemetry {
            oldest_event_ms: events.iter().map(|e| e.received_at_ms).min(),
            outbound_budgets: Vec::new(),
        },
        webhook_events: events,
        ph_stats: Vec::new(),
    };
    let body = serde_json::to_string(&batch).ok()?;
    Some(PlannedBatch {
        batch,
        body,
        last_row: last_row?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use launch_edge_proto::Slug;
    use serde_json::json;

    fn record(id: &str, payload_bytes: usize) -> String {
        record_at(id, payload_bytes, 1)
    }

    fn record_at(id: &str, payload_bytes: usize, received_at_ms: i64) -> String {
        serde_json::to_string(&WebhookEventRecord {
            source: "stripe".into(),
            event_id: id.into(),
            event_type: "invoice.paid".into(),
            received_at_ms,
            payload: json!({ "pad": "x".repeat(payload_bytes) }),
        })
        .unwrap()
    }

    #[test]
    fn every_delivery_of_one_event_lands_in_the_same_inbox_and_counter_shard() {
        assert_eq!(inbox_name("stripe", "evt_1"), inbox_name("stripe", "evt_1"));
        assert_eq!(
            count_shard_key("stripe", "evt_1"),
            count_shard_key("stripe", "evt_1")
        );
        let names: std::collections::BTreeSet<String> = (0..200)
            .map(|i| inbox_name("stripe", &format!("evt_{i}")))
            .collect();
        assert_eq!(
            names.len(),
            INBOX_SHARDS as usize,
            "ids spread over all shards"
        );
        assert!(names.iter().all(|n| n.starts_with("inbox/stripe/")));
        let key = count_id("relay", "42");
        assert!(key.starts_with("webhook:") && key.len() == 8 + 64 && key.is_ascii());
        assert_eq!(key, count_id("relay", "42"));
        assert_ne!(key, count_id("relay2", "42"));
    }

    #[test]
    fn a_conversion_becomes_a_counted_event_with_its_revenue_and_source() {
        let mut conversion = Conversion {
            launch: Slug::parse("acme").unwrap(),
            kind: "purchase".into(),
            revenue_cents: 4900,
            currency: Some("usd".into()),
            source: None,
            medium: Some("email".into()),
            campaign: None,
        };
        let event = counted_event(&conversion, 7).unwrap();
        assert_eq!(
            (
                event.launch.as_str(),
                event.kind,
                event.revenue_cents,
                event.source.as_str()
            ),
            (
                "acme",
                EventKind::Conversion(ConversionKind::Purchase),
                4900,
                DEFAULT_SOURCE
            )
        );
        assert_eq!((event.at_ms, event.visitor), (7, None));
        assert_eq!(event.currency.as_deref(), Some("usd"));
        assert_eq!(
            (event.medium.as_deref(), event.campaign.as_deref()),
            (Some("email"), None)
        );
        conversion.source = Some("producthunt".into());
        assert_eq!(counted_event(&conversion, 7).unwrap().source, "producthunt");
        conversion.kind = "newsletter".into();
        assert_eq!(
            counted_event(&conversion, 7),
            Err(WebhookError::InvalidConversion("kind"))
        );
    }

    #[test]
    fn long_event_ids_are_stored_at_the_origin_as_a_stable_hash() {
        assert_eq!(origin_event_id("evt_1"), "evt_1");
        let long = "e".repeat(MAX_ORIGIN_EVENT_ID_LEN + 1);
        let stored = origin_event_id(&long);
        assert!(stored.starts_with("sha256:") && stored.len() <= MAX_ORIGIN_EVENT_ID_LEN);
        assert_eq!(stored, origin_event_id(&long));
    }

    #[test]
    fn a_batch_has_a_deterministic_id_and_takes_the_oldest_rows() {
        let rows: Vec<(i64, String)> = (1..=3).map(|i| (i, record(&format!("e{i}"), 10))).collect();
        let planned = plan_batch("inbox/stripe/2", 7, &rows).unwrap();
        assert_eq!(planned.batch.batch_id, "inbox/stripe/2:7");
        assert_eq!(planned.batch.shard, "inbox/stripe/2");
        assert_eq!(planned.last_row, 3);
        let ids: Vec<&str> = planned
            .batch
            .webhook_events
            .iter()
            .map(|e| e.event_id.as_str())
            .collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
        let parsed: IngestBatch = serde_json::from_str(&planned.body).unwrap();
        assert_eq!(parsed, planned.batch);
        assert_eq!(plan_batch("inbox/stripe/2", 8, &[]), None);
        assert!(SELECT_PENDING.ends_with(&format!("LIMIT {MAX_BATCH_EVENTS}")));
    }

    #[test]
    fn a_batch_stays_under_the_byte_bound_but_always_takes_one_row() {
        let big = 900 * 1024;
        let rows: Vec<(i64, String)> = (1..=4)
            .map(|i| (i, record(&format!("e{i}"), big)))
            .collect();
        let planned = plan_batch("inbox/s/0", 1, &rows).unwrap();
        assert_eq!(planned.batch.webhook_events.len(), 2);
        assert_eq!(planned.last_row, 2);
        let huge = vec![(9, record("h", MAX_BATCH_BYTES + 1))];
        assert_eq!(plan_batch("inbox/s/0", 2, &huge).unwrap().last_row, 9);
    }

    #[test]
    fn a_batch_reports_its_oldest_event_as_the_oldest_unacknowledged_one() {
        let rows = vec![
            (1, record_at("e1", 1, 5_000)),
            (2, record_at("e2", 1, 4_000)),
            (3, record_at("e3", 1, 9_000)),
        ];
        let planned = plan_batch("inbox/s/0", 1, &rows).unwrap();
        assert_eq!(planned.batch.telemetry.oldest_event_ms, Some(4_000));
        assert!(planned.body.contains(r#""oldest_event_ms":4000"#));
        assert!(planned.batch.telemetry.outbound_budgets.is_empty());
        let parsed: IngestBatch = serde_json::from_str(&planned.body).unwrap();
        assert_eq!(parsed.telemetry.oldest_event_ms, Some(4_000));
        let unreadable = plan_batch("inbox/s/0", 2, &[(4, "not json".to_owned())]).unwrap();
        assert_eq!(unreadable.batch.telemetry.oldest_event_ms, None);
    }

    #[test]
    fn an_unreadable_row_is_skipped_without_stalling_the_inbox() {
        let rows = vec![(1, "not json".to_owned()), (2, record("ok", 1))];
        let planned = plan_batch("inbox/s/1", 1, &rows).unwrap();
        assert_eq!(planned.batch.webhook_events.len(), 1);
        assert_eq!(planned.last_row, 2);
    }
}
