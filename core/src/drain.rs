//! Sending one ingest batch to the origin and deciding what its answer means, shared by
//! every Durable Object that drains to `POST /ingest/batch` (counter shards, webhook
//! inboxes, the task scheduler), so the exactly-once handoff is written once.
//!
//! The caller owns its batches: it cuts a batch with a deterministic id, stores it as in
//! flight, and calls [`send_batch`] until the answer is not a retry, resending the same
//! bytes each time. The origin applies each id once, so a resend after a lost answer
//! changes nothing. On [`Sent::Acked`] and [`Sent::DeadLettered`] the caller forgets the
//! batch; on [`Sent::RetryIn`] it keeps it and sets its alarm.
//!
//! Trust: only an answer the origin signed (`launch_edge_proto::signing::SignedResponse`,
//! bound to the request it answers) is believed. A 2xx or a 4xx from anything in between
//! (a proxy's 404, 403 or 429, a tunnel's error page, a captive portal's 200) is a
//! transient failure: the batch is kept and retried with backoff.
//!
//! A signed permanent refusal (the origin can never apply this batch as it is) is kept
//! aside in `dead_batches` rather than retried forever, so one bad batch cannot block the
//! object; it stays there, counted and listed (`GET /admin/dead-letters`), until an
//! operator requeues it, which puts its rows back into the object's drain. The origin
//! isolates bad rows itself (its own dead letters), so this is for batch-level refusals.
//! 401 (clock skew, a secret being rotated), 408 and 429 are transient even when signed.

use serde::Serialize;

use crate::outbound::backoff::BackoffPolicy;

/// Backoff between failed drains: 1 s doubling to 60 s, full jitter, never giving up.
pub const DRAIN_BACKOFF: BackoffPolicy = BackoffPolicy {
    base_ms: 1_000,
    cap_ms: 60_000,
    max_attempts: u32::MAX,
    max_server_delay_ms: 60_000,
};
/// Objects drain on shared wall-clock ticks of this length (not "1.5 s after my first
/// event"): the batches every shard cuts at a tick reach the origin within milliseconds
/// of each other and its group commit applies them in one Postgres transaction, so the
/// write rate is one transaction per tick whatever the number of shards. An event waits
/// at most one tick before it leaves.
pub const DRAIN_TICK_MS: i64 = 1_500;

/// Milliseconds from `now_ms` to the next drain tick: 1 to [`DRAIN_TICK_MS`].
pub fn until_next_tick(now_ms: i64) -> i64 {
    DRAIN_TICK_MS - now_ms.rem_euclid(DRAIN_TICK_MS)
}

/// When the next drain is due: the next tick, but never before a pending retry, so new
/// events arriving during an outage do not cut the backoff short.
pub fn drain_due_at(now_ms: i64, retry_at_ms: Option<i64>) -> i64 {
    (now_ms + until_next_tick(now_ms)).max(retry_at_ms.unwrap_or(i64::MIN))
}

/// How long past its due time an alarm an object set may stay silent before the object
/// takes it as lost and sets it again. An object remembers the alarm it set so that
/// most calls need no storage call; if the runtime's scheduler ever loses that alarm,
/// the memory would otherwise keep claiming it and the object would never drain again.
/// Setting it twice is harmless (the handler drains what is there), so the bound is
/// short: a few drain ticks.
pub const ALARM_OVERDUE_MS: i64 = 5_000;

/// Whether an alarm that was due at `due_ms` and has not rung by `now_ms` is lost.
pub fn alarm_lost(due_ms: i64, now_ms: i64) -> bool {
    now_ms > due_ms.saturating_add(ALARM_OVERDUE_MS)
}

/// Whether an alarm wanted at `wanted_ms` must be (re)set, given the one already set:
/// an object has one alarm for all its jobs, and the earliest due time wins
/// (the worker's `objects::sql::Alarm`); one that is [lost](alarm_lost) is set again.
pub fn alarm_moves_to(current_ms: Option<i64>, wanted_ms: i64, now_ms: i64) -> bool {
    current_ms.is_none_or(|current| wanted_ms < current || alarm_lost(current, now_ms))
}

/// Largest answer to a batch the drain reads (the origin's are a few dozen bytes).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The shortest retry delay, so a failing origin is never hammered.
pub const MIN_RETRY_MS: u64 = 250;

/// Where batches the origin refused for good are kept, for an operator to inspect.
pub const DEAD_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dead_batches (batch_id TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, at_ms INTEGER NOT NULL)";
/// Columns: batch_id, status, at_ms, body.
pub const SELECT_DEAD: &str =
    "SELECT batch_id, status, at_ms, body FROM dead_batches ORDER BY at_ms, batch_id";
/// Columns: body.
pub const SELECT_DEAD_BODY: &str = "SELECT body FROM dead_batches WHERE batch_id = ?";
pub const DELETE_DEAD: &str = "DELETE FROM dead_batches WHERE batch_id = ?";
/// The object's incarnation: random, chosen at first use, part of every batch id.
pub const INCARNATION_SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS drain_incarnation (id TEXT NOT NULL)";
/// The worker counter (`edge_drain_dead_letter`) bumped for every batch set aside.
pub const DEAD_LETTER_COUNTER: &str = "drain_dead_letter";

/// What an origin answer means for the batch that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Applied now or before: forget the batch.
    Applied,
    /// Can never apply: dead-letter it.
    Permanent,
    /// Try the same batch again later.
    Transient,
}

/// `signed`: the answer carried a valid origin signature over itself and our request.
pub fn classify(status: u16, signed: bool) -> Answer {
    match (status, signed) {
        (_, false) => Answer::Transient,
        (200..=299, true) => Answer::Applied,
        (401 | 408 | 429, true) => Answer::Transient,
        (400..=499, true) => Answer::Permanent,
        _ => Answer::Transient,
    }
}

/// The outcome of one send, for the caller's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Acked,
    DeadLettered,
    /// Keep the batch and wake up after this many milliseconds.
    RetryIn(i64),
}

/// A set-aside batch as `GET /admin/dead-letters` lists it (the body stays in the object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeadBatch {
    /// `worker:{batch_id}`, the id `POST /admin/dead-letters/:id/requeue` takes.
    pub id: String,
    pub kind: &'static str,
    /// The Durable Object holding it.
    pub object: String,
    pub batch_id: String,
    /// The origin's (signed) status.
    pub status: i64,
    pub at_ms: i64,
    /// Rows of every kind in the batch, and its size.
    pub rows: usize,
    pub bytes: usize,
}

/// Prefix of a worker-side dead letter's id.
pub const WORKER_DEAD_LETTER_PREFIX: &str = "worker:";

impl DeadBatch {
    /// From a `SELECT_DEAD` row; `body` is the stored batch JSON.
    pub fn of(object: &str, batch_id: String, status: i64, at_ms: i64, body: &str) -> Self {
        let rows = serde_json::from_str::<launch_edge_proto::batch::IngestBatch>(body)
            .map_or(0, |b| b.rows());
        Self {
            id: format!("{WORKER_DEAD_LETTER_PREFIX}{batch_id}"),
            kind: "batch",
            object: object.to_owned(),
            batch_id,
            status,
            at_ms,
            rows,
            bytes: body.len(),
        }
    }
}

/// The object that produced `batch_id` (its name is the id up to the first `:`; launch
/// slugs and source names contain none).
pub fn object_of_batch(batch_id: &str) -> Option<&str> {
    batch_id.split_once(':').map(|(object, _)| object)
}

/// A dead letter's id as `/admin/dead-letters` lists it and `.../:id/requeue` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterId {
    /// `worker:{batch_id}`: a batch set aside by the object that produced it.
    Worker { object: String, batch_id: String },
    /// `origin:{n}`: a row in the origin's `dead_letters`.
    Origin(i64),
}

impl DeadLetterId {
    /// Parses an id taken from the path: its segments joined again with `/` (a batch id
    /// holds the object name, e.g. `acme/3`), percent-escapes decoded.
    pub fn parse(raw: &str) -> Option<Self> {
        let id = percent_decode(raw)?;
        if let Some(n) = id.strip_prefix("origin:") {
            return n.parse().ok().filter(|n| *n > 0).map(DeadLetterId::Origin);
        }
        let batch_id = id.strip_prefix(WORKER_DEAD_LETTER_PREFIX)?;
        let object = object_of_batch(batch_id)?;
        (!object.is_empty()).then(|| DeadLetterId::Worker {
            object: object.to_owned(),
            batch_id: batch_id.to_owned(),
        })
    }
}

/// `%XX` escapes decoded (as `encodeURIComponent` writes them); `None` when malformed or
/// not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_object_drains_on_the_same_ticks_and_no_event_waits_longer_than_one() {
        let on_a_tick = 1_000 * DRAIN_TICK_MS;
        assert_eq!(until_next_tick(on_a_tick), DRAIN_TICK_MS);
        assert_eq!(until_next_tick(on_a_tick + 1), DRAIN_TICK_MS - 1);
        assert_eq!(until_next_tick(on_a_tick + DRAIN_TICK_MS - 1), 1);
        for now in [0, 17, 1_764_000_000_123, 1_764_000_001_999] {
            let delay = until_next_tick(now);
            assert!((1..=DRAIN_TICK_MS).contains(&delay));
            assert_eq!((now + delay) % DRAIN_TICK_MS, 0);
        }
    }

    #[test]
    fn a_drain_waits_for_the_next_tick_but_never_cuts_a_retry_short() {
        let next_tick = 1_000 * DRAIN_TICK_MS;
        let now = next_tick - 500;
        assert_eq!(drain_due_at(now, None), next_tick);
        assert_eq!(
            drain_due_at(now, Some(next_tick + 30_000)),
            next_tick + 30_000
        );
        assert_eq!(drain_due_at(now, Some(now - 1_000)), next_tick);
    }

    #[test]
    fn the_earliest_due_time_wins_the_one_alarm() {
        let now = 1_000;
        let purge_tomorrow = Some(86_400_000);
        assert!(
            alarm_moves_to(purge_tomorrow, 2_000, now),
            "a drain due now moves a purge alarm"
        );
        assert!(
            !alarm_moves_to(Some(2_000), 86_400_000, now),
            "a later purge waits its turn"
        );
        assert!(alarm_moves_to(None, 86_400_000, now));
        assert!(!alarm_moves_to(Some(2_000), 2_000, now));
    }

    #[test]
    fn an_alarm_silent_past_its_due_time_by_more_than_the_bound_is_set_again() {
        let due = 10_000;
        assert!(!alarm_lost(due, due - 1), "not due yet");
        assert!(
            !alarm_lost(due, due + ALARM_OVERDUE_MS),
            "late, within the bound"
        );
        assert!(alarm_lost(due, due + ALARM_OVERDUE_MS + 1));
        // A later wish does not move a pending alarm, but it does replace a lost one.
        assert!(!alarm_moves_to(Some(due), due + 60_000, due + 1_000));
        assert!(alarm_moves_to(
            Some(due),
            due + 60_000,
            due + ALARM_OVERDUE_MS + 1
        ));
        assert!(
            !alarm_lost(i64::MAX, i64::MAX),
            "no overflow at the far end"
        );
    }

    #[test]
    fn signed_success_is_applied_and_only_hopeless_signed_client_errors_are_permanent() {
        assert_eq!(classify(200, true), Answer::Applied);
        assert_eq!(classify(204, true), Answer::Applied);
        for status in [400, 404, 409, 413, 422] {
            assert_eq!(classify(status, true), Answer::Permanent, "{status}");
        }
        for status in [401, 408, 429, 500, 502, 503, 504, 301] {
            assert_eq!(classify(status, true), Answer::Transient, "{status}");
        }
    }

    #[test]
    fn an_unsigned_answer_is_never_believed_whatever_its_status() {
        // A proxy's 404 or 403, a rate limiter's 429, a tunnel's error page, a portal's 200.
        for status in [200, 204, 400, 403, 404, 413, 422, 429, 502, 530] {
            assert_eq!(classify(status, false), Answer::Transient, "{status}");
        }
    }

    #[test]
    fn a_dead_letter_id_names_its_holder_encoded_or_not() {
        let worker = |object: &str, batch_id: &str| DeadLetterId::Worker {
            object: object.into(),
            batch_id: batch_id.into(),
        };
        assert_eq!(
            DeadLetterId::parse("worker:acme/3:ab:9"),
            Some(worker("acme/3", "acme/3:ab:9"))
        );
        assert_eq!(
            DeadLetterId::parse("worker%3Aacme%2F3%3Aab%3A9"),
            Some(worker("acme/3", "acme/3:ab:9"))
        );
        assert_eq!(
            DeadLetterId::parse("worker:inbox/stripe/1:ab:2"),
            Some(worker("inbox/stripe/1", "inbox/stripe/1:ab:2"))
        );
        assert_eq!(
            DeadLetterId::parse("origin:42"),
            Some(DeadLetterId::Origin(42))
        );
        for bad in [
            "origin:0",
            "origin:x",
            "worker:",
            "worker:nocolon",
            "worker::1",
            "w%zz",
            "other:1",
            "%FF",
        ] {
            assert_eq!(DeadLetterId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_dead_batch_is_listed_with_its_size_and_the_object_that_holds_it() {
        let body = r#"{"batch_id":"acme/3:ab:9","shard":"acme/3","counters":[{"launch":"acme","day":"2026-12-01","minute":0,"source":"direct","metric":"view","value":1}],"uniques":[],"webhook_events":[]}"#;
        let dead = DeadBatch::of("acme/3", "acme/3:ab:9".into(), 413, 7, body);
        assert_eq!(dead.id, "worker:acme/3:ab:9");
        assert_eq!((dead.rows, dead.bytes, dead.status), (1, body.len(), 413));
        assert_eq!(object_of_batch("acme/3:ab:9"), Some("acme/3"));
        assert_eq!(
            object_of_batch("inbox/stripe/1:ab:2"),
            Some("inbox/stripe/1")
        );
        assert_eq!(object_of_batch("no-colon"), None);
    }
}
