//! The scheduler's SQLite storage. Every method is synchronous (the SQL API is), so a
//! sequence of calls with no `await` in between commits together.
//!
//! Tables: `tasks` (the [`TaskRecord`] as JSON, with its state and next attempt time as
//! indexed columns), `kv` (the budget table, each monitored launch's fired milestones
//! and last poll), `counters` (running totals for the admin API) and `counter_pending`
//! (the same increments per Pacific day, not yet sent to the origin; a counter counted
//! for a launch is the row `name@launch`, see `launch_edge_core::tally`), `outbox` (ingest
//! batches cut but not yet acknowledged), `polls` (the monitor's series). The `kv` key
//! `pending_since_ms` is when the oldest count in `counter_pending` arrived.

use launch_edge_proto::batch::{BatchTelemetry, CounterDelta, IngestBatch, PhPostStat};
use serde_json::{json, Value};
use worker::{Result, SqlStorage, SqlStorageValue};

use launch_edge_core::outbound::record::{TaskRecord, TaskState};
use launch_edge_core::outbound::{BudgetTable, MilestoneState, PollRecord};
use launch_edge_core::pacific;
use launch_edge_core::tally::{self, LAUNCH_SEPARATOR};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, state TEXT NOT NULL, next_at_ms INTEGER NOT NULL, record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tasks_due ON tasks (state, next_at_ms)",
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counter_pending (day TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (day, name))",
    "CREATE TABLE IF NOT EXISTS outbox (batch_id TEXT PRIMARY KEY, body TEXT NOT NULL, retry_at_ms INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS polls (launch TEXT NOT NULL, observed_at_ms INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (launch, observed_at_ms))",
    // Polls not yet in a batch for the origin's ph_post_stats.
    "CREATE TABLE IF NOT EXISTS polls_unsent (launch TEXT NOT NULL, observed_at_ms INTEGER NOT NULL, record TEXT NOT NULL, PRIMARY KEY (launch, observed_at_ms))",
    launch_edge_core::drain::DEAD_SCHEMA,
];
/// Listings return at most this many tasks (the most recently updated).
const LIST_LIMIT: i64 = 500;
/// The monitor series kept per launch.
const SERIES_LIMIT: i64 = 2_000;
/// The shard name of this object's ingest batches (ids `task-scheduler:{incarnation}:{seq}`).
pub const BATCH_SHARD: &str = "task-scheduler";
/// Prefix that routes a counter row to the origin's `edge_counters`.
const EDGE_PREFIX: &str = "edge_";

pub struct Store {
    sql: SqlStorage,
}

fn int(v: u64) -> SqlStorageValue {
    SqlStorageValue::Integer(v.min(i64::MAX as u64) as i64)
}

fn text(v: impl Into<String>) -> SqlStorageValue {
    SqlStorageValue::String(v.into())
}

fn bad_row() -> worker::Error {
    worker::Error::RustError("unexpected row shape in scheduler storage".into())
}

fn text_at(row: &[SqlStorageValue], i: usize) -> Result<String> {
    match row.get(i) {
        Some(SqlStorageValue::String(s)) => Ok(s.clone()),
        _ => Err(bad_row()),
    }
}

fn int_at(row: &[SqlStorageValue], i: usize) -> Result<i64> {
    match row.get(i) {
        Some(SqlStorageValue::Integer(v)) => Ok(*v),
        Some(SqlStorageValue::Float(v)) => Ok(*v as i64),
        _ => Err(bad_row()),
    }
}

impl Store {
    pub fn open(sql: SqlStorage) -> Result<Self> {
        for statement in SCHEMA {
            sql.exec(statement, None)?;
        }
        Ok(Self { sql })
    }

    pub fn sql(&self) -> &SqlStorage {
        &self.sql
    }

    fn rows(&self, query: &str, params: Vec<SqlStorageValue>) -> Result<Vec<Vec<SqlStorageValue>>> {
        self.sql.exec(query, Some(params))?.raw().collect()
    }

    fn records(&self, query: &str, params: Vec<SqlStorageValue>) -> Result<Vec<TaskRecord>> {
        self.rows(query, params)?
            .iter()
            .map(|r| Ok(serde_json::from_str(&text_at(r, 0)?)?))
            .collect()
    }

    pub fn task(&self, id: &str) -> Result<Option<TaskRecord>> {
        Ok(self
            .records("SELECT record FROM tasks WHERE id = ?", vec![text(id)])?
            .pop())
    }

    pub fn save(&self, task: &TaskRecord) -> Result<()> {
        self.sql.exec(
            "INSERT OR REPLACE INTO tasks (id, state, next_at_ms, record) VALUES (?, ?, ?, ?)",
            vec![
                text(task.id()),
                text(task.state.as_str()),
                int(task.next_at_ms),
                text(serde_json::to_string(task)?),
            ],
        )?;
        Ok(())
    }

    pub fn delete(&self, id: &str) -> Result<()> {
        self.sql
            .exec("DELETE FROM tasks WHERE id = ?", vec![text(id)])?;
        Ok(())
    }

    pub fn list(&self, state: Option<TaskState>) -> Result<Vec<TaskRecord>> {
        match state {
            Some(s) => self.records(
                "SELECT record FROM tasks WHERE state = ? ORDER BY next_at_ms LIMIT ?",
                vec![text(s.as_str()), SqlStorageValue::Integer(LIST_LIMIT)],
            ),
            None => self.records(
                "SELECT record FROM tasks ORDER BY next_at_ms LIMIT ?",
                vec![SqlStorageValue::Integer(LIST_LIMIT)],
            ),
        }
    }

    pub fn due(&self, now_ms: u64, limit: usize) -> Result<Vec<TaskRecord>> {
        self.records(
            "SELECT record FROM tasks WHERE state = 'pending' AND next_at_ms <= ? ORDER BY next_at_ms LIMIT ?",
            vec![int(now_ms), int(limit as u64)],
        )
    }

    /// The earliest pending attempt or outbox retry; now, when counters or polls wait for a
    /// batch and none is in flight (a poll recorded while a batch was in flight would
    /// otherwise wait for the next monitor run).
    pub fn next_wake_ms(&self) -> Result<Option<u64>> {
        let rows = self.rows(
            "SELECT min(at) FROM (SELECT min(next_at_ms) AS at FROM tasks WHERE state = 'pending' UNION ALL SELECT min(retry_at_ms) FROM outbox UNION ALL SELECT CASE WHEN (EXISTS (SELECT 1 FROM counter_pending) OR EXISTS (SELECT 1 FROM polls_unsent)) AND NOT EXISTS (SELECT 1 FROM outbox) THEN 0 END)",
            vec![],
        )?;
        Ok(rows
            .first()
            .and_then(|r| int_at(r, 0).ok())
            .map(|v| v.max(0) as u64))
    }

    /// Counts per state, and the operational counters.
    pub fn summary(&self) -> Result<Value> {
        let mut states = json!({ "pending": 0, "delivered": 0, "dead": 0 });
        for r in self.rows("SELECT state, count(*) FROM tasks GROUP BY state", vec![])? {
            states[text_at(&r, 0)?] = json!(int_at(&r, 1)?);
        }
        let mut counters = json!({
            super::COUNTER_OUTBOUND_429: 0, super::COUNTER_RETRY: 0,
            super::COUNTER_DEAD_LETTER: 0, super::COUNTER_DELIVERED: 0,
        });
        for r in self.rows("SELECT name, value FROM counters", vec![])? {
            counters[text_at(&r, 0)?] = json!(int_at(&r, 1)?);
        }
        Ok(json!({ "tasks": states, "counters": counters }))
    }

    /// Adds one to a counter, and to its not-yet-sent delta of the Pacific day.
    pub fn bump(&self, name: &str, now_ms: u64) -> Result<()> {
        self.bump_by(name, 1, now_ms)
    }

    /// Adds `n` to a counter, and to its not-yet-sent delta of the Pacific day. `key` is
    /// a counter name, or `name@launch` for one counted for a launch (the running total
    /// is the name's, over all launches).
    pub fn bump_by(&self, key: &str, n: u64, now_ms: u64) -> Result<()> {
        let day = pacific::day_key(pacific::pacific_day_at_ms(now_ms as i64));
        let name = key.split(LAUNCH_SEPARATOR).next().unwrap_or(key);
        self.sql.exec(
            "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            vec![text(name), int(n)],
        )?;
        self.sql.exec(
            "INSERT OR IGNORE INTO kv (key, value) VALUES ('pending_since_ms', ?)",
            vec![text(now_ms.to_string())],
        )?;
        self.sql.exec(
            "INSERT INTO counter_pending (day, name, value) VALUES (?, ?, ?) ON CONFLICT (day, name) DO UPDATE SET value = value + excluded.value",
            vec![text(day), text(key), int(n)],
        )?;
        Ok(())
    }

    /// Whether `key` would add a row to today's `counter_pending`, and how many
    /// launch-scoped rows wait there (for `launch_edge_core::tally::fold_launch`).
    pub fn pending_launch_rows(&self, key: &str, now_ms: u64) -> Result<(bool, usize)> {
        let day = pacific::day_key(pacific::pacific_day_at_ms(now_ms as i64));
        let rows = self.rows(
            &format!("SELECT (SELECT count(*) FROM counter_pending WHERE instr(name, '{LAUNCH_SEPARATOR}') > 0), NOT EXISTS (SELECT 1 FROM counter_pending WHERE day = ? AND name = ?)"),
            vec![text(day), text(key)],
        )?;
        let row = rows.first().ok_or_else(bad_row)?;
        Ok((int_at(row, 1)? != 0, int_at(row, 0)?.max(0) as usize))
    }

    fn kv(&self, key: &str) -> Result<Option<String>> {
        self.rows("SELECT value FROM kv WHERE key = ?", vec![text(key)])?
            .first()
            .map(|r| text_at(r, 0))
            .transpose()
    }

    fn set_kv(&self, key: &str, value: String) -> Result<()> {
        self.sql.exec(
            "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)",
            vec![text(key), text(value)],
        )?;
        Ok(())
    }

    pub fn budgets(&self) -> Result<BudgetTable> {
        Ok(match self.kv("budgets")? {
            Some(json) => serde_json::from_str(&json)?,
            None => BudgetTable::default(),
        })
    }

    pub fn save_budgets(&self, table: &BudgetTable) -> Result<()> {
        self.set_kv("budgets", serde_json::to_string(table)?)
    }

    pub fn milestones(&self, launch: &str) -> Result<MilestoneState> {
        Ok(match self.kv(&format!("milestones:{launch}"))? {
            Some(json) => serde_json::from_str(&json)?,
            None => MilestoneState::default(),
        })
    }

    pub fn save_milestones(&self, launch: &str, state: &MilestoneState) -> Result<()> {
        self.set_kv(
            &format!("milestones:{launch}"),
            serde_json::to_string(state)?,
        )
    }

    pub fn last_poll_ms(&self, launch: &str) -> Result<Option<u64>> {
        Ok(self
            .kv(&format!("last_poll:{launch}"))?
            .and_then(|v| v.parse().ok()))
    }

    pub fn set_last_poll_ms(&self, launch: &str, at_ms: u64) -> Result<()> {
        self.set_kv(&format!("last_poll:{launch}"), at_ms.to_string())
    }

    pub fn record_poll(&self, record: &PollRecord) -> Result<()> {
        for table in ["polls", "polls_unsent"] {
            self.sql.exec(
                &format!("INSERT OR REPLACE INTO {table} (launch, observed_at_ms, record) VALUES (?, ?, ?)"),
                vec![
                    text(record.launch.as_str()),
                    int(record.observed_at_ms),
                    text(serde_json::to_string(record)?),
                ],
            )?;
        }
        self.sql.exec(
            "DELETE FROM polls WHERE launch = ? AND observed_at_ms NOT IN (SELECT observed_at_ms FROM polls WHERE launch = ? ORDER BY observed_at_ms DESC LIMIT ?)",
            vec![text(record.launch.as_str()), text(record.launch.as_str()), SqlStorageValue::Integer(SERIES_LIMIT)],
        )?;
        Ok(())
    }

    /// The monitor's series for a launch, oldest first, and its fired milestones.
    pub fn series(&self, launch: &str) -> Result<Value> {
        let polls: Vec<PollRecord> = self
            .rows(
                "SELECT record FROM polls WHERE launch = ? ORDER BY observed_at_ms",
                vec![text(launch)],
            )?
            .iter()
            .map(|r| Ok(serde_json::from_str(&text_at(r, 0)?)?))
            .collect::<Result<_>>()?;
        Ok(
            json!({ "launch": launch, "polls": polls, "milestones_fired": self.milestones(launch)?.fired }),
        )
    }

    /// Cuts the pending counter deltas into one outbox batch (id `task-scheduler:{incarnation}:{seq}`),
    /// unless a batch is still waiting for its acknowledgement. The batch reports the
    /// arrival of its oldest count or poll (nothing else is unacknowledged: no batch is
    /// in flight) and the outbound budgets as they stand.
    pub fn cut_batch(&self, now_ms: u64) -> Result<()> {
        if !self
            .rows("SELECT 1 FROM outbox LIMIT 1", vec![])?
            .is_empty()
        {
            return Ok(());
        }
        let minute = (now_ms / 60_000 * 60) as i64;
        let counters = self
            .rows("SELECT day, name, value FROM counter_pending", vec![])?
            .iter()
            .map(|r| {
                let key = text_at(r, 1)?;
                let (name, launch) = tally::parse_key(&key).unwrap_or((&key, None));
                Ok(CounterDelta {
                    launch: launch.unwrap_or_default().to_owned(),
                    day: text_at(r, 0)?,
                    minute,
                    source: "edge".into(),
                    metric: format!("{EDGE_PREFIX}{name}"),
                    value: int_at(r, 2)?,
                    ..CounterDelta::default()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let ph_stats = self
            .rows(
                "SELECT record FROM polls_unsent ORDER BY observed_at_ms",
                vec![],
            )?
            .iter()
            .map(|r| {
                let poll: PollRecord = serde_json::from_str(&text_at(r, 0)?)?;
                let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                Ok(PhPostStat {
                    launch: poll.launch,
                    observed_at_ms: signed(poll.observed_at_ms),
                    votes: signed(poll.votes),
                    comments: signed(poll.comments),
                    featured_at_ms: poll.featured_at_ms.map(signed),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if counters.is_empty() && ph_stats.is_empty() {
            return Ok(());
        }
        let counted_since = self
            .kv("pending_since_ms")?
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|_| !counters.is_empty());
        let oldest_event_ms = ph_stats
            .iter()
            .map(|p| p.observed_at_ms)
            .chain(counted_since)
            .min();
        let telemetry = BatchTelemetry {
            oldest_event_ms,
            outbound_budgets: self.budgets()?.report(now_ms),
        };
        let seq: u64 = self
            .kv("batch_seq")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            + 1;
        let batch = IngestBatch {
            // With the object's incarnation: a wiped scheduler never reuses an applied id.
            batch_id: launch_edge_proto::batch::batch_id(
                BATCH_SHARD,
                &crate::objects::drain::incarnation(&self.sql)?,
                seq,
            ),
            shard: BATCH_SHARD.into(),
            counters,
            uniques: Vec::new(),
            webhook_events: Vec::new(),
            ph_stats,
            telemetry,
        };
        self.set_kv("batch_seq", seq.to_string())?;
        self.sql.exec(
            "INSERT INTO outbox (batch_id, body, retry_at_ms) VALUES (?, ?, 0)",
            vec![
                text(batch.batch_id.as_str()),
                text(serde_json::to_string(&batch)?),
            ],
        )?;
        self.sql.exec("DELETE FROM counter_pending", None)?;
        self.sql
            .exec("DELETE FROM kv WHERE key = 'pending_since_ms'", None)?;
        self.sql.exec("DELETE FROM polls_unsent", None)?;
        Ok(())
    }

    /// The batch waiting to be sent, if it is time: `(batch_id, body)`.
    pub fn outbox_due(&self, now_ms: u64) -> Result<Option<(String, String)>> {
        self.rows(
            "SELECT batch_id, body FROM outbox WHERE retry_at_ms <= ? LIMIT 1",
            vec![int(now_ms)],
        )?
        .first()
        .map(|r| Ok((text_at(r, 0)?, text_at(r, 1)?)))
        .transpose()
    }

    pub fn forget_batch(&self, batch_id: &str) -> Result<()> {
        self.sql.exec(
            "DELETE FROM outbox WHERE batch_id = ?",
            vec![text(batch_id)],
        )?;
        Ok(())
    }

    pub fn retry_batch_at(&self, batch_id: &str, at_ms: u64) -> Result<()> {
        self.sql.exec(
            "UPDATE outbox SET retry_at_ms = ? WHERE batch_id = ?",
            vec![int(at_ms), text(batch_id)],
        )?;
        Ok(())
    }
}
