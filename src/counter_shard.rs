//! `CounterShard`: the Durable Object that counts one shard of one launch (glue only).
//!
//! The pure state machine is [`crate::counters::CounterState`]; this file persists its
//! storage ops in the object's SQLite storage, answers the worker, and drains batches to
//! the origin from an alarm. Storage writes of one call run with no `await` in between,
//! so they commit together before the answer leaves (the output gate), which is what
//! makes a 2xx mean "counted".
//!
//! Routes (called by the worker through the stub, never from the internet):
//! `POST /count` (a [`CountedEvent`], shard name in `x-shard`), `GET /totals?launch=&day=`,
//! `POST /flush` (the cron's safety sweep).

use std::cell::{Cell, RefCell};

use launch_edge_proto::batch::{IngestAck, MAX_BATCH_ROWS};
use serde::Deserialize;
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage,
    SqlStorageValue, State,
};

use crate::config::Config;
use crate::counters::{
    storage, CountedEvent, CounterState, Limits, SqlValue, StorageOp, StoredShard, TotalRow,
};
use crate::origin_client::{self, now_ms};
use crate::outbound::backoff::BackoffPolicy;
use crate::outbound::rng::FnRng;

/// How long after the first unflushed event the alarm drains the shard.
const FLUSH_DELAY_MS: i64 = 2_000;
/// Backoff between failed drains: 1 s doubling to 60 s, full jitter, never giving up.
const DRAIN_BACKOFF: BackoffPolicy = BackoffPolicy {
    base_ms: 1_000,
    cap_ms: 60_000,
    max_attempts: u32::MAX,
    max_server_delay_ms: 60_000,
};
pub const SHARD_HEADER: &str = "x-shard";

const IDENTITY_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS shard_identity (name TEXT NOT NULL)";
const DEAD_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS dead_batches (batch_id TEXT PRIMARY KEY, status INTEGER NOT NULL, body TEXT NOT NULL, at_ms INTEGER NOT NULL)";

#[durable_object]
pub struct CounterShard {
    state: State,
    env: Env,
    counter: RefCell<Option<CounterState>>,
    failed_drains: Cell<u32>,
    alarm_set: Cell<bool>,
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
            failed_drains: Cell::new(0),
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let shard_name = req.headers().get(SHARD_HEADER)?;
        self.load(shard_name.as_deref())?;
        match (req.method(), req.path().as_str()) {
            (Method::Post, "/count") => {
                // serde_json, not `req.json()`: JS numbers would round the u64 visitor hash.
                let event: CountedEvent = match serde_json::from_str(&req.text().await?) {
                    Ok(event) => event,
                    Err(e) => return Response::error(format!("bad event: {e}"), 400),
                };
                let ops = match self.with_counter(|c| c.apply(&event))? {
                    Ok(ops) => ops,
                    Err(e) => return Response::error(e.to_string(), 400),
                };
                self.persist(&ops)?;
                self.schedule(FLUSH_DELAY_MS).await?;
                Response::ok("counted")
            }
            (Method::Get, "/totals") => {
                let query: TotalsQuery = req.query()?;
                let totals = self.with_counter(|c| c.totals(&query.launch, &query.day))?;
                Response::from_json(&totals)
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
            .chain([&IDENTITY_SCHEMA, &DEAD_SCHEMA])
        {
            sql.exec(statement, None)?;
        }
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
        let state = CounterState::restore(name, Limits::default(), stored)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        *self.counter.borrow_mut() = Some(state);
        Ok(())
    }

    fn persist(&self, ops: &[StorageOp]) -> Result<()> {
        let sql = self.sql();
        for op in ops {
            for (statement, params) in op.statements() {
                sql.exec(
                    statement,
                    params.into_iter().map(to_sql).collect::<Vec<_>>(),
                )?;
            }
        }
        Ok(())
    }

    async fn schedule(&self, delay_ms: i64) -> Result<()> {
        if !self.alarm_set.get() {
            self.state.storage().set_alarm(delay_ms).await?;
            self.alarm_set.set(true);
        }
        Ok(())
    }

    /// Sends batches until the shard is empty or the origin fails; returns how many landed.
    async fn drain(&self) -> Result<u32> {
        let config =
            Config::from_env(&self.env).map_err(|e| worker::Error::RustError(e.to_string()))?;
        let mut sent = 0;
        loop {
            let Some(outgoing) = self.with_counter(|c| c.take_batch(MAX_BATCH_ROWS))? else {
                self.failed_drains.set(0);
                return Ok(sent);
            };
            self.persist(&outgoing.ops)?;
            let batch_id = outgoing.batch.batch_id.clone();
            let body = serde_json::to_vec(&outgoing.batch)?;
            match origin_client::send_signed(
                &config,
                Method::Post,
                "/ingest/batch",
                Some(body.clone()),
            )
            .await
            {
                Ok(mut response) if (200..300).contains(&response.status_code()) => {
                    let ack: IngestAck = response.json().await?;
                    if ack.batch_id != batch_id {
                        return Err(worker::Error::RustError(format!(
                            "origin acknowledged {} for {batch_id}",
                            ack.batch_id
                        )));
                    }
                    self.forget(&batch_id)?;
                    sent += 1;
                }
                // The origin says this batch can never apply: keep it aside, don't block the shard.
                Ok(response) if is_permanent(response.status_code()) => {
                    let status = response.status_code();
                    worker::console_error!(
                        "batch {batch_id} rejected by the origin ({status}); dead-lettered"
                    );
                    self.sql().exec(
                        "INSERT OR REPLACE INTO dead_batches (batch_id, status, body, at_ms) VALUES (?, ?, ?, ?)",
                        vec![
                            SqlStorageValue::String(batch_id.clone()),
                            SqlStorageValue::Integer(status.into()),
                            SqlStorageValue::String(String::from_utf8_lossy(&body).into_owned()),
                            SqlStorageValue::Integer(now_ms() as i64),
                        ],
                    )?;
                    self.forget(&batch_id)?;
                }
                failure => {
                    let reason = match failure {
                        Ok(response) => format!("status {}", response.status_code()),
                        Err(e) => e.to_string(),
                    };
                    let failed = self.failed_drains.get().saturating_add(1);
                    self.failed_drains.set(failed);
                    let mut rng =
                        FnRng(|| (worker::js_sys::Math::random() * u64::MAX as f64) as u64);
                    let delay = DRAIN_BACKOFF.jittered_delay_ms(failed, &mut rng).max(250);
                    worker::console_warn!(
                        "drain of {batch_id} failed ({reason}); retry in {delay} ms"
                    );
                    self.alarm_set.set(false);
                    self.schedule(delay as i64).await?;
                    return Ok(sent);
                }
            }
        }
    }

    fn forget(&self, batch_id: &str) -> Result<()> {
        if let Some(ops) = self.with_counter(|c| c.ack(batch_id))? {
            self.persist(&ops)?;
        }
        Ok(())
    }
}

fn is_permanent(status: u16) -> bool {
    (400..500).contains(&status) && status != 401 && status != 408 && status != 429
}

fn to_sql(value: SqlValue) -> SqlStorageValue {
    match value {
        SqlValue::Integer(i) => SqlStorageValue::Integer(i),
        SqlValue::Text(s) => SqlStorageValue::String(s),
    }
}

fn rows(
    sql: &SqlStorage,
    query: &str,
    params: Option<Vec<SqlStorageValue>>,
) -> Result<Vec<Vec<SqlStorageValue>>> {
    sql.exec(query, params)?.raw().collect()
}

fn text_at(row: &[SqlStorageValue], i: usize) -> Option<String> {
    match row.get(i) {
        Some(SqlStorageValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int_at(row: &[SqlStorageValue], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(SqlStorageValue::Integer(v)) => Some(*v),
        Some(SqlStorageValue::Float(v)) => Some(*v as i64),
        _ => None,
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
            metric: text_at(&r, 4).ok_or_else(bad)?,
            value: int_at(&r, 5).ok_or_else(bad)?,
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
    for r in rows(sql, storage::SELECT_DIRTY_SKETCHES, None)? {
        stored.dirty_sketches.push((
            text_at(&r, 0).ok_or_else(bad)?,
            text_at(&r, 1).ok_or_else(bad)?,
        ));
    }
    Ok(stored)
}
