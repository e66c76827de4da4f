//! `WebhookInbox`: the Durable Object that applies each verified webhook event once and
//! hands it to the origin (glue; the pure half is `crate::webhooks::inbox`).
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
//!   deterministic id `"{inbox}:{seq}"`, stored as in flight before sending and resent
//!   byte for byte until the origin's `IngestAck` (shared code in `crate::drain`); the
//!   origin applies each batch id once and keeps `webhook_events` unique on
//!   `(source, event_id)`.
//!
//! A redelivery after the window is treated as new (the inbox forgets the id then; the
//! counter shard keeps conversion keys for the longest window a source may set, so it
//! never forgets first); the alarm purges expired ids, so storage holds at most one
//! window of ids.

use std::cell::{Cell, RefCell};

use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage,
    SqlStorageValue, State,
};

use crate::config::Config;
use crate::counters::SqlValue;
use crate::counting;
use crate::do_sql::{exec_all, int_at, rows, set_alarm_once, text_at};
use crate::drain::{self, Sent};
use crate::origin_client::now_ms;
use crate::recent_ids::{RecentIds, DEFAULT_DEDUPE_WINDOW_MS};
use crate::webhooks::inbox::{
    self, count_id, count_shard_key, origin_event_id, plan_batch, Delivery, InboxAnswer,
};

/// The object's name, sent by the worker with every delivery.
pub const INBOX_HEADER: &str = "x-inbox";
const SEEN_TABLE: &str = "inbox_seen";

#[durable_object]
pub struct WebhookInbox {
    state: State,
    env: Env,
    name: RefCell<Option<String>>,
    seen: RefCell<RecentIds>,
    failed_drains: Cell<u32>,
    alarm_set: Cell<bool>,
}

impl DurableObject for WebhookInbox {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            name: RefCell::new(None),
            seen: RefCell::new(RecentIds::new(SEEN_TABLE, DEFAULT_DEDUPE_WINDOW_MS)),
            failed_drains: Cell::new(0),
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let name = req.headers().get(INBOX_HEADER)?;
        self.load(name.as_deref())?;
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/deliver") => {
                let delivery: Delivery = match serde_json::from_str(&req.text().await?) {
                    Ok(delivery) => delivery,
                    Err(e) => return Response::error(format!("bad delivery: {e}"), 400),
                };
                self.deliver(delivery).await
            }
            (Method::Post, "/flush") => {
                let sent = self.drain().await?;
                Response::from_json(&serde_json::json!({ "batches_sent": sent }))
            }
            _ => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_set.set(false);
        if self.load(None).is_err() {
            return Response::ok("no inbox here");
        }
        self.drain().await?;
        let purged = self.seen.borrow_mut().purge(now_ms() as i64);
        exec_all(&self.sql(), purged)?;
        // Wake again when the oldest remembered id expires (unless a retry is due sooner).
        let next_expiry = self.seen.borrow().next_expiry_ms();
        if let Some(expiry) = next_expiry {
            self.schedule((expiry - now_ms() as i64).max(1_000)).await?;
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
            let config =
                Config::from_env(&self.env).map_err(|e| worker::Error::RustError(e.to_string()))?;
            let shard_key = count_shard_key(&record.source, &record.event_id);
            let id = count_id(&record.source, &record.event_id);
            if let Err(e) =
                counting::count_once(&self.env, &config, event, shard_key, Some(&id)).await
            {
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
        self.schedule(drain::until_next_tick(now_ms() as i64))
            .await?;
        answer(false)
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

    async fn schedule(&self, delay_ms: i64) -> Result<()> {
        set_alarm_once(&self.state, &self.alarm_set, delay_ms).await
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
        let Some(planned) = plan_batch(inbox_name, seq, &pending) else {
            return Ok(None);
        };
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
        let config =
            Config::from_env(&self.env).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let inbox_name = self
            .name
            .borrow()
            .clone()
            .ok_or_else(|| worker::Error::RustError("inbox not loaded".into()))?;
        let mut sent = 0;
        loop {
            let Some((batch_id, body)) = self.next_batch(&inbox_name)? else {
                self.failed_drains.set(0);
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
                }
                Sent::RetryIn(delay) => {
                    self.alarm_set.set(false);
                    self.schedule(delay).await?;
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
