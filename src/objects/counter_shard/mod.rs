//! `CounterShard`: the Durable Object that counts one shard of one launch (glue only).
//!
//! The pure state machine is [`launch_edge_core::count::shard::CounterState`]; this file persists its
//! storage ops in the object's SQLite storage, answers the worker, and drains batches to
//! the origin from an alarm. Storage writes of one call run with no `await` in between,
//! so they commit together before the answer leaves (the output gate), which is what
//! makes a 2xx mean "counted".
//!
//! Routes (called by the worker through the stub, never from the internet):
//! `POST /count` (a [`CountedEvent`], shard name in `x-shard`), `POST /count-batch` (a
//! JSON array of them, counted all or none, from `isolate::batcher`),
//! `GET /totals?launch=&day=`, `POST /flush` (the cron's safety sweep), `POST
//! /forget?before=YYYY-MM-DD` (the rollover: drop drained days' live stats),
//! `GET /dead-letters` (batches the origin refused, set aside by `launch_edge_core::drain`) and
//! `POST /dead-letters/requeue` (`{"batch_id": ..}`: its rows back into the drain), and
//! with `TEST_HOOKS` only, `POST /test/lose-alarm` (the alarm deleted behind the
//! object's back, to test that an overdue alarm is set again).
//!
//! A batch from `isolate::batcher` carries its flush id ([`FLUSH_ID_HEADER`]): the shard
//! remembers applied flush ids for [`FLUSH_DEDUPE_WINDOW_MS`] in the same storage writes
//! as the counts and answers a repeat 200 without counting, so an isolate resending a
//! batch whose answer it lost counts it once.
//!
//! Batch ids are `"{shard}:{incarnation}:{seq}"`: the incarnation is random, stored in the
//! object at first use (`drain::incarnation`), so a shard whose storage was wiped, or the
//! same shard name in another environment, never reuses an id the origin has applied.
//!
//! A count sent with an idempotency key ([`EVENT_ID_HEADER`], a webhook conversion) is
//! applied once per key within [`DEDUPE_WINDOW_MS`]: the key is remembered in the same
//! storage writes as the count, and a repeat is answered 200 without counting, so a
//! webhook delivery retried after a crash between "counted" and "recorded" in its inbox
//! is not counted twice.

use std::cell::{Cell, RefCell};

use launch_edge_proto::batch::MAX_BATCH_ROWS;
use serde::Deserialize;
use serde_json::json;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State,
};

use crate::net::origin::now_ms;
use crate::objects::dead_letters::RequeueBody;
use crate::objects::drain::{self, Sent};
use crate::objects::sql::{exec_all, int_at, rows, set_alarm_once, text_at};
use crate::objects::InstanceConfig;
use launch_edge_core::count::lanes::FLUSH_DEDUPE_WINDOW_MS;
use launch_edge_core::count::shard::{
    storage, CountedEvent, CounterState, Limits, StorageOp, StoredShard, TotalRow,
};
use launch_edge_core::recent_ids::{RecentIds, DEDUPE_WINDOW_MS};

pub mod client;

use client::{Route, ALREADY_COUNTED, EVENT_ID_HEADER, FLUSH_ID_HEADER, SHARD_HEADER};

/// Where the idempotency keys of counted events are remembered.
const APPLIED_TABLE: &str = "counter_applied_events";
/// Where applied flush ids are remembered.
const FLUSHES_TABLE: &str = "counter_applied_flushes";

const IDENTITY_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS shard_identity (name TEXT NOT NULL)";

#[durable_object]
pub struct CounterShard {
    state: State,
    env: Env,
    counter: RefCell<Option<CounterState>>,
    applied: RefCell<RecentIds>,
    flushes: RefCell<RecentIds>,
    failed_drains: Cell<u32>,
    /// When the alarm this instance set is due; `None` once it rang.
    alarm_due: Cell<Option<i64>>,
    config: InstanceConfig,
}

#[derive(Deserialize)]
struct ForgetQuery {
    before: String,
}

#[derive(Deserialize)]
struct TotalsQuery {
    launch: String,
    day: String,
}

impl DurableObject for CounterShard {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            counter: RefCell::new(None),
            applied: RefCell::new(RecentIds::new(APPLIED_TABLE, DEDUPE_WINDOW_MS)),
            flushes: RefCell::new(RecentIds::new(FLUSHES_TABLE, FLUSH_DEDUPE_WINDOW_MS)),
            failed_drains: Cell::new(0),
            alarm_due: Cell::new(None),
            config: InstanceConfig::default(),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let shard_name = req.headers().get(SHARD_HEADER)?;
        self.load(shard_name.as_deref())?;
        match Route::of(&req.method(), &req.path()) {
            Some(Route::Count) => {
                // serde_json, not `req.json()`: JS numbers would round the u64 visitor hash.
                let event: CountedEvent = match serde_json::from_str(&req.text().await?) {
                    Ok(event) => event,
                    Err(e) => return Response::error(format!("bad event: {e}"), 400),
                };
                let event_id = req.headers().get(EVENT_ID_HEADER)?;
                if let Some(id) = &event_id {
                    if self.applied.borrow().contains(id) {
                        return Response::ok(ALREADY_COUNTED);
                    }
                }
                let ops = match self.with_counter(|c| c.apply(&event))? {
                    Ok(ops) => ops,
                    Err(e) => return Response::error(e.to_string(), 400),
                };
                self.persist(&ops)?;
                if let Some(id) = &event_id {
                    let remembered = self.applied.borrow_mut().remember(id, event.at_ms);
                    exec_all(&self.sql(), remembered)?;
                }
                self.schedule(drain::until_next_tick(now_ms() as i64))
                    .await?;
                Response::ok("counted")
            }
            Some(Route::CountBatch) => {
                let events: Vec<CountedEvent> = match serde_json::from_str(&req.text().await?) {
                    Ok(events) => events,
                    Err(e) => return Response::error(format!("bad events: {e}"), 400),
                };
                // From here to the writes: no await, so of two sends of one flush exactly
                // one counts it.
                let flush_id = req.headers().get(FLUSH_ID_HEADER)?;
                if let Some(id) = &flush_id {
                    if self.flushes.borrow().contains(id) {
                        return Response::ok(ALREADY_COUNTED);
                    }
                }
                let ops = match self.with_counter(|c| c.apply_all(&events))? {
                    Ok(ops) => ops,
                    Err((index, e)) => return Response::error(format!("event {index}: {e}"), 400),
                };
                self.persist(&ops)?;
                if let Some(id) = &flush_id {
                    let remembered = self.flushes.borrow_mut().remember(id, now_ms() as i64);
                    exec_all(&self.sql(), remembered)?;
                }
                self.schedule(drain::until_next_tick(now_ms() as i64))
                    .await?;
                Response::ok("counted")
            }
            Some(Route::Totals) => {
                let query: TotalsQuery = req.query()?;
                let totals = self.with_counter(|c| c.totals(&query.launch, &query.day))?;
                Response::from_json(&totals)
            }
            Some(Route::Forget) => {
                // The cron's rollover: live stats of days before `before` are final.
                let query: ForgetQuery = req.query()?;
                let ops = self.with_counter(|c| c.forget_days_before(&query.before))?;
                self.persist(&ops)?;
                Response::from_json(&serde_json::json!({ "days_forgotten": ops.len() }))
            }
            Some(Route::Flush) => {
                let sent = self.drain().await?;
                Response::from_json(&serde_json::json!({ "batches_sent": sent }))
            }
            Some(Route::DeadLetters) => {
                let name = self.with_counter(|c| c.shard().to_owned())?;
                Response::from_json(&drain::list_dead(&self.sql(), &name)?)
            }
            Some(Route::Requeue) => {
                let body: RequeueBody = match serde_json::from_str(&req.text().await?) {
                    Ok(body) => body,
                    Err(e) => return Response::error(format!("bad requeue: {e}"), 400),
                };
                self.requeue(&body.batch_id).await
            }
            Some(Route::LoseAlarm) => {
                if !crate::edge::test_hooks_enabled(&self.env) {
                    return Response::error("not found", 404);
                }
                self.state.storage().delete_alarm().await?;
                let believed = self.alarm_due.get().unwrap_or(now_ms() as i64);
                self.alarm_due.set(Some(believed));
                Response::ok("alarm lost")
            }
            None => Response::error("not found", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.alarm_due.set(None);
        if self.load(None).is_err() {
            return Response::ok("no shard here");
        }
        self.drain().await?;
        Response::ok("drained")
    }
}

impl CounterShard {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    fn with_counter<T>(&self, f: impl FnOnce(&mut CounterState) -> T) -> Result<T> {
        let mut counter = self.counter.borrow_mut();
        let counter = counter
            .as_mut()
            .ok_or_else(|| worker::Error::RustError("counter shard not loaded".into()))?;
        Ok(f(counter))
    }

    /// Restores the state from storage once per instance. The first request names the
    /// shard; later wake-ups (alarms) read the name back.
    fn load(&self, name: Option<&str>) -> Result<()> {
        if self.counter.borrow().is_some() {
            return Ok(());
        }
        let sql = self.sql();
        for statement in storage::SCHEMA
            .iter()
            .chain([&IDENTITY_SCHEMA, &drain::DEAD_SCHEMA])
        {
            sql.exec(statement, None)?;
        }
        let applied = RecentIds::new(APPLIED_TABLE, DEDUPE_WINDOW_MS);
        sql.exec(&applied.schema(), None)?;
        let remembered = rows(&sql, &applied.select_all(), None)?
            .into_iter()
            .filter_map(|r| Some((text_at(&r, 0)?, int_at(&r, 1)?)));
        *self.applied.borrow_mut() = applied.restore(remembered);
        let flushes = RecentIds::new(FLUSHES_TABLE, FLUSH_DEDUPE_WINDOW_MS);
        sql.exec(&flushes.schema(), None)?;
        let remembered = rows(&sql, &flushes.select_all(), None)?
            .into_iter()
            .filter_map(|r| Some((text_at(&r, 0)?, int_at(&r, 1)?)));
        *self.flushes.borrow_mut() = flushes.restore(remembered);
        let stored_name = rows(&sql, "SELECT name FROM shard_identity", None)?
            .into_iter()
            .next()
            .and_then(|r| text_at(&r, 0));
        let name = match (stored_name, name) {
            (Some(stored), _) => stored,
            (None, Some(given)) => {
                sql.exec(
                    "INSERT INTO shard_identity (name) VALUES (?)",
                    vec![SqlStorageValue::String(given.to_owned())],
                )?;
                given.to_owned()
            }
            (None, None) => return Err(worker::Error::RustError("shard has no name yet".into())),
        };
        let stored = read_stored(&sql)?;
        let mut state = CounterState::restore(name, Limits::default(), stored)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        state.set_incarnation(drain::incarnation(&sql)?);
        *self.counter.borrow_mut() = Some(state);
        Ok(())
    }

    fn persist(&self, ops: &[StorageOp]) -> Result<()> {
        exec_all(&self.sql(), ops.iter().flat_map(StorageOp::statements))
    }

    async fn schedule(&self, delay_ms: i64) -> Result<()> {
        set_alarm_once(&self.state, &self.alarm_due, delay_ms, now_ms() as i64).await
    }

    /// Sends batches until the shard is empty or the origin fails; returns how many landed.
    async fn drain(&self) -> Result<u32> {
        let config = self.config.get(&self.env)?;
        let mut sent = 0;
        loop {
            let Some(outgoing) = self.with_counter(|c| c.take_batch(MAX_BATCH_ROWS))? else {
                self.failed_drains.set(0);
                return Ok(sent);
            };
            self.persist(&outgoing.ops)?;
            let batch_id = outgoing.batch.batch_id.clone();
            let backlog = outgoing.full;
            let body = serde_json::to_vec(&outgoing.batch)?;
            match drain::send_batch(&config, &self.sql(), &self.failed_drains, &batch_id, body)
                .await?
            {
                Sent::Acked => {
                    self.forget(&batch_id)?;
                    sent += 1;
                }
                // The origin says this batch can never apply: kept aside (and counted), don't
                // block the shard; an operator requeues it once the cause is fixed.
                Sent::DeadLettered => {
                    self.forget(&batch_id)?;
                    drain::count_dead_letter(&self.env).await;
                }
                Sent::RetryIn(delay) => {
                    self.alarm_due.set(None);
                    self.schedule(delay).await?;
                    return Ok(sent);
                }
            }
            // One snapshot per wake-up: what arrived during the round trip waits for the
            // next alarm instead of becoming another small transaction right away, unless
            // the shard is behind by a full batch.
            let pending = self.with_counter(|c| c.has_unflushed())?;
            if pending && !backlog {
                self.schedule(drain::until_next_tick(now_ms() as i64))
                    .await?;
                return Ok(sent);
            }
        }
    }

    /// Puts a set-aside batch's rows back into the drain; the set-aside copy is deleted in
    /// the same storage writes (no await in between), so its rows drain exactly once.
    async fn requeue(&self, batch_id: &str) -> Result<Response> {
        let Some(batch) = drain::take_dead(&self.sql(), batch_id)? else {
            return Response::error("no such dead batch", 404);
        };
        let ops = self.with_counter(|c| c.requeue(&batch))?;
        self.persist(&ops)?;
        worker::console_log!("dead batch {batch_id} requeued: {} rows", batch.rows());
        self.schedule(drain::until_next_tick(now_ms() as i64))
            .await?;
        Response::from_json(&json!({ "requeued": batch_id, "rows": batch.rows() }))
    }

    fn forget(&self, batch_id: &str) -> Result<()> {
        if let Some(ops) = self.with_counter(|c| c.ack(batch_id))? {
            self.persist(&ops)?;
        }
        Ok(())
    }
}

fn read_stored(sql: &SqlStorage) -> Result<StoredShard> {
    let bad = || worker::Error::RustError("unexpected row shape in counter storage".into());
    let mut stored = StoredShard {
        next_seq: rows(sql, storage::SELECT_NEXT_SEQ, None)?
            .first()
            .and_then(|r| int_at(r, 0)),
        ..StoredShard::default()
    };
    for r in rows(sql, storage::SELECT_BATCHES, None)? {
        stored.batches.push(text_at(&r, 0).ok_or_else(bad)?);
    }
    for r in rows(sql, storage::SELECT_PENDING, None)? {
        stored.pending.push(launch_edge_proto::batch::CounterDelta {
            launch: text_at(&r, 0).ok_or_else(bad)?,
            day: text_at(&r, 1).ok_or_else(bad)?,
            minute: int_at(&r, 2).ok_or_else(bad)?,
            source: text_at(&r, 3).ok_or_else(bad)?,
            medium: text_at(&r, 4).ok_or_else(bad)?,
            campaign: text_at(&r, 5).ok_or_else(bad)?,
            metric: text_at(&r, 6).ok_or_else(bad)?,
            value: int_at(&r, 7).ok_or_else(bad)?,
        });
    }
    for r in rows(sql, storage::SELECT_TOTALS, None)? {
        stored.totals.push(TotalRow {
            launch: text_at(&r, 0).ok_or_else(bad)?,
            day: text_at(&r, 1).ok_or_else(bad)?,
            source: text_at(&r, 2).ok_or_else(bad)?,
            metric: text_at(&r, 3).ok_or_else(bad)?,
            value: int_at(&r, 4).ok_or_else(bad)?,
        });
    }
    for r in rows(sql, storage::SELECT_REGISTERS, None)? {
        stored.registers.push((
            text_at(&r, 0).ok_or_else(bad)?,
            text_at(&r, 1).ok_or_else(bad)?,
            int_at(&r, 2).ok_or_else(bad)?,
            int_at(&r, 3).ok_or_else(bad)?,
        ));
    }
    for r in rows(sql, storage::SELECT_LABELS, None)? {
        stored.labels.push((
            text_at(&r, 0).ok_or_else(bad)?,
            text_at(&r, 1).ok_or_else(bad)?,
            text_at(&r, 2).ok_or_else(bad)?,
            text_at(&r, 3).ok_or_else(bad)?,
        ));
    }
    for r in rows(sql, storage::SELECT_DIRTY_SKETCHES, None)? {
        stored.dirty_sketches.push((
            text_at(&r, 0).ok_or_else(bad)?,
            text_at(&r, 1).ok_or_else(bad)?,
        ));
    }
    Ok(stored)
}
