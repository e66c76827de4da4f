//! Sending one ingest batch to the origin and deciding what its answer means, shared by
//! every Durable Object that drains to `POST /ingest/batch` (counter shards, webhook
//! inboxes), so the exactly-once handoff is written once.
//!
//! The caller owns its batches: it cuts a batch with a deterministic id, stores it as in
//! flight, and calls [`send_batch`] until the answer is not a retry, resending the same
//! bytes each time. The origin applies each id once, so a resend after a lost answer
//! changes nothing. On [`Sent::Acked`] and [`Sent::DeadLettered`] the caller forgets the
//! batch; on [`Sent::RetryIn`] it keeps it and sets its alarm.
//!
//! A permanent 4xx (the origin can never apply this batch) is kept aside in
//! `dead_batches` rather than retried forever, so one bad batch cannot block the object.
//! 401 (clock skew, a secret being rotated), 408 and 429 are transient.

use crate::outbound::backoff::BackoffPolicy;

/// Backoff between failed drains: 1 s doubling to 60 s, full jitter, never giving up.
pub const DRAIN_BACKOFF: BackoffPolicy = BackoffPolicy {
    base_ms: 1_000,
    cap_ms: 60_000,
    max_attempts: u32::MAX,
    max_server_delay_ms: 60_000,
};
/// Objects drain on shared wall-clock ticks of this length (not "2 s after my first
/// event"): the batches every shard cuts at a tick reach the origin within milliseconds
/// of each other and its group commit applies them in one Postgres transaction, so the
/// write rate is one transaction per tick whatever the number of shards. An event waits
/// at most one tick before it leaves.
pub const DRAIN_TICK_MS: i64 = 2_000;

/// Milliseconds from `now_ms` to the next drain tick: 1 to [`DRAIN_TICK_MS`].
pub fn until_next_tick(now_ms: i64) -> i64 {
    DRAIN_TICK_MS - now_ms.rem_euclid(DRAIN_TICK_MS)
}

/// The shortest retry delay, so a failing origin is never hammered.
pub const MIN_RETRY_MS: u64 = 250;

/// Where batches the origin refused for good are kept, for an operator to inspect.
pub const DEAD_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dead_batches (batch_id TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, at_ms INTEGER NOT NULL)";

/// What an origin status means for the batch that got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Applied now or before: forget the batch.
    Applied,
    /// Can never apply: dead-letter it.
    Permanent,
    /// Try the same batch again later.
    Transient,
}

pub fn classify(status: u16) -> Answer {
    match status {
        200..=299 => Answer::Applied,
        401 | 408 | 429 => Answer::Transient,
        400..=499 => Answer::Permanent,
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

#[cfg(target_arch = "wasm32")]
pub use glue::send_batch;

#[cfg(target_arch = "wasm32")]
mod glue {
    use std::cell::Cell;

    use launch_edge_proto::batch::IngestAck;
    use worker::{Method, Result, SqlStorage, SqlStorageValue};

    use super::{classify, Answer, Sent, DRAIN_BACKOFF, MIN_RETRY_MS};
    use crate::config::Config;
    use crate::origin_client::{self, now_ms};
    use crate::outbound::rng::FnRng;

    /// Sends `body` (batch `batch_id`) once. `failures` counts consecutive failed sends
    /// of this object (the backoff exponent); the caller resets it when drained.
    /// A dead-lettered batch is written to `dead_batches` here, before returning.
    pub async fn send_batch(
        config: &Config,
        sql: &SqlStorage,
        failures: &Cell<u32>,
        batch_id: &str,
        body: Vec<u8>,
    ) -> Result<Sent> {
        let sent =
            origin_client::send_signed(config, Method::Post, "/ingest/batch", Some(body.clone()))
                .await;
        let reason = match sent {
            Ok(mut response) => match classify(response.status_code()) {
                Answer::Applied => {
                    let ack: IngestAck = response.json().await?;
                    if ack.batch_id != batch_id {
                        return Err(worker::Error::RustError(format!(
                            "origin acknowledged {} for {batch_id}",
                            ack.batch_id
                        )));
                    }
                    return Ok(Sent::Acked);
                }
                Answer::Permanent => {
                    let status = response.status_code();
                    worker::console_error!(
                        "batch {batch_id} rejected by the origin ({status}); dead-lettered"
                    );
                    sql.exec(
                        "INSERT OR REPLACE INTO dead_batches (batch_id, status, body, at_ms) VALUES (?, ?, ?, ?)",
                        vec![
                            SqlStorageValue::String(batch_id.to_owned()),
                            SqlStorageValue::Integer(status.into()),
                            SqlStorageValue::String(String::from_utf8_lossy(&body).into_owned()),
                            SqlStorageValue::Integer(now_ms() as i64),
                        ],
                    )?;
                    return Ok(Sent::DeadLettered);
                }
                Answer::Transient => format!("status {}", response.status_code()),
            },
            Err(e) => e.to_string(),
        };
        let failed = failures.get().saturating_add(1);
        failures.set(failed);
        let mut rng = FnRng(|| (worker::js_sys::Math::random() * u64::MAX as f64) as u64);
        let delay = DRAIN_BACKOFF
            .jittered_delay_ms(failed, &mut rng)
            .max(MIN_RETRY_MS);
        worker::console_warn!("drain of {batch_id} failed ({reason}); retry in {delay} ms");
        Ok(Sent::RetryIn(delay as i64))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn every_object_drains_on_the_same_ticks_and_no_event_waits_longer_than_one() {
        assert_eq!(until_next_tick(1_000_000), DRAIN_TICK_MS);
        assert_eq!(until_next_tick(1_000_001), DRAIN_TICK_MS - 1);
        assert_eq!(until_next_tick(1_001_999), 1);
        for now in [0, 17, 1_764_000_000_123, 1_764_000_001_999] {
            let delay = until_next_tick(now);
            assert!((1..=DRAIN_TICK_MS).contains(&delay));
            assert_eq!((now + delay) % DRAIN_TICK_MS, 0);
        }
    }
    use super::*;

    #[test]
    fn success_is_applied_and_only_hopeless_client_errors_are_permanent() {
        assert_eq!(classify(200), Answer::Applied);
        assert_eq!(classify(204), Answer::Applied);
        for status in [400, 404, 409, 413, 422] {
            assert_eq!(classify(status), Answer::Permanent, "{status}");
        }
        for status in [401, 408, 429, 500, 502, 503, 504, 301] {
            assert_eq!(classify(status), Answer::Transient, "{status}");
        }
    }
}
