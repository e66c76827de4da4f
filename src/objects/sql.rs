//! Small helpers for Durable Object SQLite storage, shared by the objects' glue.

use std::cell::Cell;

use worker::{Result, SqlStorage, SqlStorageValue, State};

use launch_edge_core::count::shard::SqlValue;
use launch_edge_core::drain::{alarm_lost, alarm_moves_to};

/// A pure storage op's parameter as a binding value.
pub fn to_sql(value: SqlValue) -> SqlStorageValue {
    match value {
        SqlValue::Integer(i) => SqlStorageValue::Integer(i),
        SqlValue::Text(s) => SqlStorageValue::String(s),
    }
}

/// Runs statements (SQL with `?` parameters) in order, with no `await` in between, so
/// Durable Object storage commits them together.
pub fn exec_all<S: AsRef<str>>(
    sql: &SqlStorage,
    statements: impl IntoIterator<Item = (S, Vec<SqlValue>)>,
) -> Result<()> {
    for (statement, params) in statements {
        sql.exec(
            statement.as_ref(),
            params.into_iter().map(to_sql).collect::<Vec<_>>(),
        )?;
    }
    Ok(())
}

/// Sets the object's alarm `delay_ms` from now unless `due` says one is pending; the
/// object clears `due` when its alarm rings (or to move the alarm). An alarm overdue past
/// [`alarm_lost`]'s bound is taken as lost and set again.
pub async fn set_alarm_once(
    state: &State,
    due: &Cell<Option<i64>>,
    delay_ms: i64,
    now_ms: i64,
) -> Result<()> {
    match due.get() {
        Some(at) if !alarm_lost(at, now_ms) => return Ok(()),
        Some(at) => warn_lost(at),
        None => {}
    }
    state.storage().set_alarm(delay_ms).await?;
    due.set(Some(now_ms + delay_ms));
    Ok(())
}

/// Logs an alarm that was due at `due_ms` and never rang (it is being set again).
fn warn_lost(due_ms: i64) {
    worker::console_warn!("the alarm due at {due_ms} never rang; set again");
}

/// An object's one alarm, shared by all its jobs (draining, purging...): [`Alarm::request`]
/// moves it earlier, never later, so a job due soon is never stuck behind one due later.
/// The alarm handler calls [`Alarm::fired`] first and then requests its next jobs.
#[derive(Debug, Default)]
pub struct Alarm {
    /// The alarm as set by this instance; `None` in `known` until read from storage.
    at_ms: Cell<Option<i64>>,
    known: Cell<bool>,
}

impl Alarm {
    /// Makes sure the alarm rings at `at_ms` or earlier.
    pub async fn request(&self, state: &State, at_ms: i64, now_ms: i64) -> Result<()> {
        if !self.known.get() {
            self.at_ms.set(state.storage().get_alarm().await?);
            self.known.set(true);
        }
        if alarm_moves_to(self.at_ms.get(), at_ms, now_ms) {
            if let Some(lost) = self.at_ms.get().filter(|&at| alarm_lost(at, now_ms)) {
                warn_lost(lost);
            }
            state.storage().set_alarm((at_ms - now_ms).max(1)).await?;
            self.at_ms.set(Some(at_ms));
        }
        Ok(())
    }

    /// The alarm is ringing: none is set any more.
    pub fn fired(&self) {
        self.at_ms.set(None);
        self.known.set(true);
    }
}

/// Every row of a query, as raw values.
pub fn rows(
    sql: &SqlStorage,
    query: &str,
    params: impl Into<Option<Vec<SqlStorageValue>>>,
) -> Result<Vec<Vec<SqlStorageValue>>> {
    sql.exec(query, params)?.raw().collect()
}

pub fn text_at(row: &[SqlStorageValue], i: usize) -> Option<String> {
    match row.get(i) {
        Some(SqlStorageValue::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// SQLite integers may come back as JS numbers (floats) through the binding.
pub fn int_at(row: &[SqlStorageValue], i: usize) -> Option<i64> {
    match row.get(i) {
        Some(SqlStorageValue::Integer(v)) => Some(*v),
        Some(SqlStorageValue::Float(v)) => Some(*v as i64),
        _ => None,
    }
}
