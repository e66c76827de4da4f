//! The drain's glue, shared by the counter shards and the webhook inboxes: sends a batch to
//! the origin ([`send_batch`]) and keeps what the origin refuses in the object's
//! `dead_batches` table. What to do with each answer is decided in
//! [`launch_edge_core::drain`], re-exported here so an object imports one drain.

pub use launch_edge_core::drain::*;

use std::cell::Cell;

use launch_edge_proto::batch::{new_incarnation, IngestAck, IngestBatch};
use launch_edge_proto::headers::RESPONSE_SIGNATURE;
use launch_edge_proto::signing::SignedResponse;
use worker::{Env, Method, Result, SqlStorage, SqlStorageValue};

use launch_edge_core::config::Config;
use launch_edge_core::outbound::rng::FnRng;

use crate::net::origin::{self, now_ms};
use crate::objects::sql::{int_at, rows, text_at};

/// Sends `body` (batch `batch_id`) once. `failures` counts consecutive failed sends
/// of this object (the backoff exponent); the caller resets it when drained.
/// A dead-lettered batch is written to `dead_batches` here, before returning; the
/// caller then alerts (a counter shard with [`count_dead_letter`]).
pub async fn send_batch(
    config: &Config,
    sql: &SqlStorage,
    failures: &Cell<u32>,
    batch_id: &str,
    body: Vec<u8>,
) -> Result<Sent> {
    let sent = origin::send_signed_keeping_signature(
        config,
        Method::Post,
        "/ingest/batch",
        Some(body.clone()),
    )
    .await;
    let reason = match sent {
        Ok((mut response, request_signature)) => {
            let status = response.status_code();
            // The origin's answers are small JSON documents; a large page is someone
            // else's and is not worth reading (it stays unsigned: a retry).
            let declared: Option<usize> = response
                .headers()
                .get("content-length")
                .ok()
                .flatten()
                .and_then(|v| v.trim().parse().ok());
            let answer = match declared {
                Some(len) if len > MAX_ANSWER_BYTES => Vec::new(),
                _ => response.bytes().await.unwrap_or_default(),
            };
            let signature = response.headers().get(RESPONSE_SIGNATURE).ok().flatten();
            let signed = SignedResponse {
                status,
                request_signature: &request_signature,
                body: &answer,
            }
            .verify(&config.origin_signing_secret, signature.as_deref())
            .is_ok();
            match classify(status, signed) {
                Answer::Applied => match serde_json::from_slice::<IngestAck>(&answer) {
                    Ok(ack) if ack.batch_id == batch_id => return Ok(Sent::Acked),
                    _ => format!("status {status} without an ack for this batch"),
                },
                Answer::Permanent => {
                    let code = String::from_utf8_lossy(&answer);
                    let code: String = code.chars().take(200).collect();
                    worker::console_error!(
                        "ALERT batch {batch_id} refused by the origin ({status} {code}); set aside in dead_batches, requeue with POST /admin/dead-letters/worker:{batch_id}/requeue"
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
                Answer::Transient if signed => format!("status {status}"),
                Answer::Transient => format!("unsigned status {status} (not the origin's)"),
            }
        }
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

/// Counts a counter shard's set-aside batch as the worker counter
/// `edge_drain_dead_letter` (drained to the origin's `edge_counters` and its `/metrics`);
/// a failure is only logged. A webhook inbox counts its own
/// (`launch_edge_core::webhooks::inbox::DEAD_LETTER_COUNTER`).
pub async fn count_dead_letter(env: &Env) {
    crate::isolate::tally::count_edge(env, DEAD_LETTER_COUNTER).await;
}

/// This object's incarnation id, chosen (at random) and stored at first use.
pub fn incarnation(sql: &SqlStorage) -> Result<String> {
    sql.exec(INCARNATION_SCHEMA, None)?;
    let stored = rows(sql, "SELECT id FROM drain_incarnation LIMIT 1", None)?
        .first()
        .and_then(|r| text_at(r, 0));
    if let Some(id) = stored {
        return Ok(id);
    }
    let id = new_incarnation(|| (worker::js_sys::Math::random() * 4_294_967_296.0) as u32);
    sql.exec(
        "INSERT INTO drain_incarnation (id) VALUES (?)",
        vec![SqlStorageValue::String(id.clone())],
    )?;
    Ok(id)
}

/// The batches this object set aside.
pub fn list_dead(sql: &SqlStorage, object: &str) -> Result<Vec<DeadBatch>> {
    Ok(rows(sql, SELECT_DEAD, None)?
        .into_iter()
        .filter_map(|r| {
            Some(DeadBatch::of(
                object,
                text_at(&r, 0)?,
                int_at(&r, 1)?,
                int_at(&r, 2)?,
                &text_at(&r, 3)?,
            ))
        })
        .collect())
}

/// Removes a set-aside batch and returns it, for the caller to put its rows back into
/// its drain in the same synchronous block (so the writes commit together). `None`
/// when there is no such batch.
pub fn take_dead(sql: &SqlStorage, batch_id: &str) -> Result<Option<IngestBatch>> {
    let id = || vec![SqlStorageValue::String(batch_id.to_owned())];
    let Some(body) = rows(sql, SELECT_DEAD_BODY, id())?
        .first()
        .and_then(|r| text_at(r, 0))
    else {
        return Ok(None);
    };
    let batch: IngestBatch = serde_json::from_str(&body)
        .map_err(|e| worker::Error::RustError(format!("dead batch {batch_id}: {e}")))?;
    sql.exec(DELETE_DEAD, id())?;
    Ok(Some(batch))
}
