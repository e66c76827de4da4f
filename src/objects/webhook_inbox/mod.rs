//! `WebhookInbox`: the Durable Object that applies each verified webhook event once and
//! hands it to the origin (glue; the pure half is `launch_edge_core::webhooks::inbox`).
//!
//! One object per source and id-hash shard (`inbox/{source}/{i}`, see
//! `webhooks::inbox::inbox_name`): every delivery of one event meets the same object.
//!
//! `POST /deliver` (a `Delivery`, the object's name in `x-inbox`), in this order:
//! 1. `(source, event_id)` already remembered: answer `{"duplicate": true}`, change nothing.
//! 2. The event is a conversion: count it through the counter shard with the idempotency
//!    key `count_id(source, event_id)`, and wait until the shard stored it. A failure is a
//!    503 with nothing recorded, so the sender retries.
//! 3. Check the dedupe set again (a concurrent duplicate may have finished during the
//!    await in step 2): if present, answer duplicate.
//! 4. In one storage transaction (no `await` in between): remember the id for the
//!    source's dedupe window and append the event to `inbox_pending`. Only then answer
//!    `{"duplicate": false}`; the output gate holds the answer until the writes are
//!    durable.
//!
//! Why this is exactly once for deliveries within the dedupe window (per source,
//! `WEBHOOK_DEDUPE_HOURS_<NAME>`, 4 days by default, sent with every delivery):
//! - Recorded at most once: steps 3 and 4 run without yielding, so of N concurrent
//!   deliveries exactly one passes step 3 and writes; the others answer duplicate.
//! - Counted at most once: N deliveries may all reach step 2 (concurrently, or a retry
//!   after a crash between steps 2 and 4), but the counter shard stores the count and its
//!   idempotency key in one transaction and answers a repeated key without counting.
//! - Counted at least once when recorded: step 4 runs only after step 2 succeeded.
//! - Stored at the origin exactly once: pending events leave in batches with the
//!   deterministic id `"{inbox}:{incarnation}:{seq}"`, stored as in flight before sending and resent
//!   byte for byte until the origin's `IngestAck` (shared code in `launch_edge_core::drain`); the
//!   origin applies each batch id once and keeps `webhook_events` unique on
//!   `(source, event_id)`.
//!
//! A redelivery after the window is treated as new (the inbox forgets the id then; the
//! counter shard keeps conversion keys for the longest window a source may set, so it
//! never forgets first); the alarm purges expired ids, so storage holds at most one
//! window of ids.
//!
//! One alarm serves both jobs ([`crate::objects::sql::Alarm`]): the drain (the next tick after a
//! delivery, or the backoff's retry time) and the purge (when the oldest id expires). The
//! earliest due time wins, so an event delivered while the purge alarm is set for
//! tomorrow still drains at the next tick.
//!
//! Batch ids are `"{inbox}:{incarnation}:{seq}"` (`launch_edge_proto::batch::batch_id`).
//! `GET /dead-letters` lists the batches the origin refused (set aside by `launch_edge_core::drain`)
//! and `POST /dead-letters/requeue` (`{"batch_id": ..}`) puts one's events back into
//! `inbox_pending`, deleting the set-aside copy in the same storage writes.

use std::cell::{Cell, RefCell};

use launch_edge_proto::batch::batch_id;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State,
};

use crate::net::origin::now_ms;
use crate::objects::counter_shard::client::ShardClient;
use crate::objects::dead_letters::RequeueBody;
use crate::objects::drain::{self, Sent};
use crate::objects::sql::{exec_all, int_at, rows, text_at, Alarm};
use crate::objects::InstanceConfig;
use launch_edge_core::count::shard::shard_for;
use launch_edge_core::count::shard::SqlValue;
use launch_edge_core::recent_ids::{RecentIds, DEFAULT_DEDUPE_WINDOW_MS};
use launch_edge_core::webhooks::inbox::{
    self, count_id, count_shard_key, origin_event_id, plan_batch, Delivery, InboxAnswer,
};

pub mod client;

use client::{Route, INBOX_HEADER};
const SEEN_TABLE: &str = "inbox_seen";

#[durable_object]
pub struct WebhookInbox {
    state: State,
    env: Env,
    name: RefCell<Option<String>>,
    seen: RefCell<RecentIds>,
    failed_drains: Cell<u32>,
    alarm: Alarm,
    /// When the backoff allows the next drain after a failure (`None`: at the next tick).
    retry_at: Cell<Option<i64>>,
    incarnation: RefCell<Option<String>>,
    config: InstanceConfig,
}

impl DurableObject for WebhookInbox {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            name: RefCell::new(None),
            seen: RefCell::new(RecentIds::new(SEEN_TABLE, DEFAULT_DEDUPE_WINDOW_MS)),
            failed_drains: Cell::new(0),
            alarm: Alarm::default(),
            retry_at: Cell::new(None),
            incarnation: RefCell::new(None),
            config: InstanceConfig::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let name = req.headers().get(INBOX_HEADER)?;
        self.load(name.as_deref())?;
        match Route::of(&req.method(), &req.path()) {
            Some(Route::Deliver) => {
                let delivery: Delivery = match serde_json::from_str(&req.text().await?) {
                    Ok(delivery) => delivery,
                    Err(e) => return Response::error(format!("bad delivery: {e}"), 400),
                };
                self.deliver(delivery).await
            }
            Some(Route::Flush) => {
                let sent = self.drain().await?;
                Response::from_json(&serde_json::json!({ "batches_sent": sent }))
            }
            Some(Route::DeadLetters) => {
                let name = self.name.borrow().clone().unwrap_or_default();
                Response::from_json(&drain::list_dead(&self.sql(), &name)?)
            }
            Some(Route::Requeue) => {
                let body: RequeueBody = match serde_json::from_str(&req.text().await?) {
                    Ok(body) => body,
                    Err(e) => return Response::error(format!("bad requeue: {e}"), 400),
                };
                self.requeue(&body.batch_id).await
            }
            None => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm.fired();
        if self.load(None).is_err() {
            return Response::ok("no inbox here");
        }
        self.drain().await?;
        let purged = self.seen.borrow_mut().purge(now_ms() as i64);
        exec_all(&self.sql(), purged)?;
        // Wake again when the oldest remembered id expires (unless a retry is due sooner).
        let next_expiry = self.seen.borrow().next_expiry_ms();
        if let Some(expiry) = next_expiry {
            let now = now_ms() as i64;
            self.alarm
                .request(&self.state, expiry.max(now + 1_000), now)
                .await?;
        }
        Response::ok("drained")
    }
}

impl WebhookInbox {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Response> {
        if let Some(window) = delivery.dedupe_window_ms {
            self.use_window(window)?;
        }
        let record = delivery.record;
        let key = format!("{}:{}", record.source, record.event_id);
        if self.seen.borrow().contains(&key) {
            return answer(true);
        }
        if let Some(event) = &delivery.count {
            let config = self.config.get(&self.env)?;
            let shard_key = count_shard_key(&record.source, &record.event_id);
            let id = count_id(&record.source, &record.event_id);
            let shard = shard_for(shard_key, config.counter_shards);
            let counted = match ShardClient::of(&self.env, &event.launch, shard) {
                Ok(client) => client.count(event, Some(&id)).await,
                Err(e) => Err(e),
            };
            if let Err(e) = counted {
                worker::console_error!("webhook {key}: conversion not counted yet: {e}");
                return Response::error("count not stored, retry", 503);
            }
        }
        // From here to the answer's writes: no await, so this check and the writes are one
        // step for every concurrent delivery of the same event.
        if self.seen.borrow().contains(&key) {
            return answer(true);
        }
        let stored = launch_edge_proto::batch::WebhookEventRecord {
            event_id: origin_event_id(&record.event_id),
            ..record
        };
        let mut statements = self.seen.borrow_mut().remember(&key, now_ms() as i64);
        statements.push((
            inbox::INSERT_PENDING.to_owned(),
            vec![SqlValue::Text(serde_json::to_string(&stored)?)],
        ));
        exec_all(&self.sql(), statements)?;
        self.schedule_drain().await?;
        answer(false)
    }

    /// Puts a set-aside batch's events back into `inbox_pending` (they were recorded in
    /// the dedupe set when delivered, so they are not checked again) and drains soon.
    async fn requeue(&self, batch_id: &str) -> Result<Response> {
        let sql = self.sql();
        // No await from taking the batch to re-inserting its events: one storage commit.
        let Some(batch) = drain::take_dead(&sql, batch_id)? else {
            return Response::error("no such dead batch", 404);
        };
        let statements = batch
            .webhook_events
            .iter()
            .map(|record| {
                let json = serde_json::to_string(record).unwrap_or_default();
                (inbox::INSERT_PENDING, vec![SqlValue::Text(json)])
            })
            .collect::<Vec<_>>();
        exec_all(&sql, statements)?;
        worker::console_log!("dead batch {batch_id} requeued: {} events", batch.rows());
        self.schedule_drain().await?;
        Response::from_json(&serde_json::json!({ "requeued": batch_id, "rows": batch.rows() }))
    }

    /// Creates the tables and restores the dedupe set once per instance. The first
    /// delivery names the inbox; later wake-ups (alarms) read the name back.
    fn load(&self, name: Option<&str>) -> Result<()> {
        if self.name.borrow().is_some() {
            return Ok(());
        }
        let sql = self.sql();
        for statement in inbox::SCHEMA.iter().chain([&drain::DEAD_SCHEMA]) {
            sql.exec(statement, None)?;
        }
        let mut seen = RecentIds::new(SEEN_TABLE, DEFAULT_DEDUPE_WINDOW_MS);
        if let Some(window) = self
            .meta(&sql, "dedupe_window_ms")?
            .and_then(|v| v.parse().ok())
        {
            seen.set_window(window);
        }
        sql.exec(&seen.schema(), None)?;
        let remembered = rows(&sql, &seen.select_all(), vec![])?
            .into_iter()
            .filter_map(|r| Some((text_at(&r, 0)?, int_at(&r, 1)?)));
        *self.seen.borrow_mut() = seen.restore(remembered);
        let stored = self.meta(&sql, "name")?;
        let name = match (stored, name) {
            (Some(stored), _) => stored,
            (None, Some(given)) => {
                set_meta(&sql, "name", given)?;
                given.to_owned()
            }
            (None, None) => return Err(worker::Error::RustError("inbox has no name yet".into())),
        };
        *self.name.borrow_mut() = Some(name);
        *self.incarnation.borrow_mut() = Some(drain::incarnation(&sql)?);
        Ok(())
    }

    /// Adopts the source's dedupe window (kept in `inbox_meta` for alarms, which purge
    /// without a delivery to say it).
    fn use_window(&self, window_ms: i64) -> Result<()> {
        let mut seen = self.seen.borrow_mut();
        let before = seen.window_ms();
        seen.set_window(window_ms);
        if seen.window_ms() != before {
            set_meta(
                &self.sql(),
                "dedupe_window_ms",
                &seen.window_ms().to_string(),
            )?;
        }
        Ok(())
    }

    fn meta(&self, sql: &SqlStorage, key: &str) -> Result<Option<String>> {
        let found = rows(
            sql,
            inbox::SELECT_META,
            vec![SqlStorageValue::String(key.to_owned())],
        )?;
        Ok(found.first().and_then(|r| text_at(r, 0)))
    }

    /// Asks the one alarm for a drain at the next tick (or the backoff's retry time).
    async fn schedule_drain(&self) -> Result<()> {
        let now = now_ms() as i64;
        let due = drain::drain_due_at(now, self.retry_at.get());
        self.alarm.request(&self.state, due, now).await
    }

    /// The batch to send now: the one in flight (resent byte for byte until acked), else
    /// a new one cut from the oldest pending events, stored as in flight together with
    /// the removal of its rows and the next sequence number.
    fn next_batch(&self, inbox_name: &str) -> Result<Option<(String, String)>> {
        let sql = self.sql();
        if let Some(row) = rows(&sql, inbox::SELECT_BATCH, vec![])?.first() {
            let bad = || worker::Error::RustError("unexpected in-flight batch row".into());
            return Ok(Some((
                text_at(row, 0).ok_or_else(bad)?,
                text_at(row, 1).ok_or_else(bad)?,
            )));
        }
        let pending: Vec<(i64, String)> = rows(&sql, inbox::SELECT_PENDING, vec![])?
            .into_iter()
            .filter_map(|r| Some((int_at(&r, 0)?, text_at(&r, 1)?)))
            .collect();
        let seq: u64 = self
            .meta(&sql, "next_seq")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let Some(mut planned) = plan_batch(inbox_name, seq, &pending) else {
            return Ok(None);
        };
        let incarnation = self.incarnation.borrow().clone().unwrap_or_default();
        planned.batch.batch_id = batch_id(inbox_name, &incarnation, seq);
        planned.body = serde_json::to_string(&planned.batch)?;
        let batch_id = planned.batch.batch_id;
        sql.exec(
            inbox::SAVE_BATCH,
            vec![
                SqlStorageValue::String(batch_id.clone()),
                SqlStorageValue::String(planned.body.clone()),
            ],
        )?;
        sql.exec(
            inbox::DELETE_PENDING_UP_TO,
            vec![SqlStorageValue::Integer(planned.last_row)],
        )?;
        set_meta(&sql, "next_seq", &(seq + 1).to_string())?;
        Ok(Some((batch_id, planned.body)))
    }

    /// Sends batches until the inbox is empty or the origin fails; returns how many landed.
    async fn drain(&self) -> Result<u32> {
        let config = self.config.get(&self.env)?;
        let inbox_name = self
            .name
            .borrow()
            .clone()
            .ok_or_else(|| worker::Error::RustError("inbox not loaded".into()))?;
        let mut sent = 0;
        loop {
            let Some((batch_id, body)) = self.next_batch(&inbox_name)? else {
                self.failed_drains.set(0);
                self.retry_at.set(None);
                return Ok(sent);
            };
            let outcome = drain::send_batch(
                &config,
                &self.sql(),
                &self.failed_drains,
                &batch_id,
                body.into_bytes(),
            )
            .await?;
            match outcome {
                Sent::Acked | Sent::DeadLettered => {
                    self.sql()
                        .exec(inbox::DELETE_BATCH, vec![SqlStorageValue::String(batch_id)])?;
                    sent += u32::from(outcome == Sent::Acked);
                    if outcome == Sent::DeadLettered {
                        // `edge_webhook_inbox_dead_letter`, apart from counter batches'.
                        crate::isolate::tally::count_edge(&self.env, inbox::DEAD_LETTER_COUNTER)
                            .await;
                    }
                }
                Sent::RetryIn(delay) => {
                    let now = now_ms() as i64;
                    self.retry_at.set(Some(now + delay));
                    self.alarm.request(&self.state, now + delay, now).await?;
                    return Ok(sent);
                }
            }
        }
    }
}

fn answer(duplicate: bool) -> Result<Response> {
    Response::from_json(&InboxAnswer { duplicate })
}

fn set_meta(sql: &SqlStorage, key: &str, value: &str) -> Result<()> {
    sql.exec(
        inbox::SET_META,
        vec![
            SqlStorageValue::String(key.to_owned()),
            SqlStorageValue::String(value.to_owned()),
        ],
    )?;
    Ok(())
}
