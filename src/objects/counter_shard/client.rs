//! The typed client of [`super::CounterShard`]: the only code that knows the shard's
//! routes, headers and status codes. Callers say what they want ([`ShardClient::count`],
//! [`ShardClient::count_batch`], ...) and get typed answers; the object matches the same
//! [`Route`]s, so a path is spelled once.

use launch_edge_core::bindings;
use launch_edge_core::count::shard::{shard_name, CountedEvent, DayCounts};
use worker::{Env, Method, Stub, Url};

use crate::error::AppError;
use crate::objects::dead_letters::{DeadLetterHolder, DEAD_LETTERS_PATH, REQUEUE_PATH};

/// Names the shard the call is for (the object keeps it on first use).
pub const SHARD_HEADER: &str = "x-shard";
/// The idempotency key of a count (optional).
pub const EVENT_ID_HEADER: &str = "x-event-id";
/// The flush id of a batch of events (the isolate batcher's), applied once per id.
pub const FLUSH_ID_HEADER: &str = "x-flush-id";
/// The body of a 200 to a count whose idempotency key (or flush id) was applied before.
pub const ALREADY_COUNTED: &str = "already counted";

/// The shard's routes (called through the stub, never from the internet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /count`: one [`CountedEvent`], optionally under [`EVENT_ID_HEADER`].
    Count,
    /// `POST /count-batch`: a JSON array of events, all or none, under [`FLUSH_ID_HEADER`].
    CountBatch,
    /// `GET /totals?launch=&day=`: the shard's [`DayCounts`].
    Totals,
    /// `POST /forget?before=YYYY-MM-DD`: the rollover drops drained days' live stats.
    Forget,
    /// `POST /flush`: the cron's safety sweep drains now.
    Flush,
    /// `GET /dead-letters` and `POST /dead-letters/requeue` (see [`crate::objects::dead_letters`]).
    DeadLetters,
    Requeue,
    /// `POST /test/lose-alarm`: only with `TEST_HOOKS = "enabled"`, the shard deletes its
    /// alarm and keeps believing it is set, as if the runtime had lost it.
    LoseAlarm,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Count,
        Route::CountBatch,
        Route::Totals,
        Route::Forget,
        Route::Flush,
        Route::DeadLetters,
        Route::Requeue,
        Route::LoseAlarm,
    ];

    pub fn method_and_path(self) -> (Method, &'static str) {
        match self {
            Route::Count => (Method::Post, "/count"),
            Route::CountBatch => (Method::Post, "/count-batch"),
            Route::Totals => (Method::Get, "/totals"),
            Route::Forget => (Method::Post, "/forget"),
            Route::Flush => (Method::Post, "/flush"),
            Route::DeadLetters => (Method::Get, DEAD_LETTERS_PATH),
            Route::Requeue => (Method::Post, REQUEUE_PATH),
            Route::LoseAlarm => (Method::Post, "/test/lose-alarm"),
        }
    }

    /// The route a request to the object asks for.
    pub fn of(method: &Method, path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| {
            let (m, p) = r.method_and_path();
            &m == method && p == path
        })
    }
}

/// What a shard said to a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Stored now.
    New,
    /// Its idempotency key (or flush id) was applied before: not counted again.
    Duplicate,
}

/// What a shard said to a batch of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardAnswer {
    /// Counted now, or already counted under this flush id.
    Stored,
    /// The shard can never count it (an invalid event): resending cannot help.
    Refused(u16),
}

/// One counter shard, by name (`{launch}/{index}`).
pub struct ShardClient {
    stub: Stub,
    name: String,
}

impl ShardClient {
    /// The dead letters of object `name` (no stub is made until a call).
    pub fn dead_letters(name: String) -> DeadLetterHolder {
        DeadLetterHolder::new(bindings::COUNTER_SHARD, SHARD_HEADER, name)
    }

    /// Shard `index` of `launch`.
    pub fn of(env: &Env, launch: &str, index: u32) -> Result<Self, AppError> {
        Self::named(env, shard_name(launch, index))
    }

    pub fn named(env: &Env, name: String) -> Result<Self, AppError> {
        let stub = crate::objects::stub(env, bindings::COUNTER_SHARD, &name)?;
        Ok(Self { stub, name })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    async fn send(
        &self,
        route: Route,
        query: &[(&str, &str)],
        key: Option<(&str, &str)>,
        body: Option<String>,
    ) -> Result<worker::Response, AppError> {
        let (method, path) = route.method_and_path();
        let path = if query.is_empty() {
            path.to_owned()
        } else {
            let mut url = Url::parse("https://object").expect("static URL");
            url.set_path(path);
            url.query_pairs_mut().extend_pairs(query);
            format!("{}?{}", url.path(), url.query().unwrap_or_default())
        };
        let mut headers = vec![(SHARD_HEADER, self.name.as_str())];
        headers.extend(key);
        crate::objects::call(&self.stub, method, &path, &headers, body).await
    }

    fn unexpected(&self, status: u16) -> AppError {
        AppError::Internal(format!("shard {} answered {status}", self.name))
    }

    /// Counts one event and returns once the shard stored it; with an `event_id` the shard
    /// counts it at most once per id (within `recent_ids::DEDUPE_WINDOW_MS`), so the
    /// caller's shard key must derive from the id (every repeat then meets its shard).
    pub async fn count(
        &self,
        event: &CountedEvent,
        event_id: Option<&str>,
    ) -> Result<Counted, AppError> {
        let body = serde_json::to_string(event)?;
        let key = event_id.map(|id| (EVENT_ID_HEADER, id));
        let mut response = self.send(Route::Count, &[], key, Some(body)).await?;
        match response.status_code() {
            200 if response.text().await? == ALREADY_COUNTED => Ok(Counted::Duplicate),
            200 => Ok(Counted::New),
            status => Err(self.unexpected(status)),
        }
    }

    /// Counts a batch under its flush id. A 5xx or a network error is an `Err`: the
    /// batch may or may not have been applied, and is resent under the same id.
    pub async fn count_batch(
        &self,
        events: &[CountedEvent],
        flush_id: &str,
    ) -> Result<ShardAnswer, AppError> {
        let body = serde_json::to_string(events)?;
        let key = Some((FLUSH_ID_HEADER, flush_id));
        let response = self.send(Route::CountBatch, &[], key, Some(body)).await?;
        match response.status_code() {
            200 => Ok(ShardAnswer::Stored),
            status @ 400..=499 => Ok(ShardAnswer::Refused(status)),
            status => Err(self.unexpected(status)),
        }
    }

    /// The shard's live counts of `launch` on Pacific `day` (`YYYY-MM-DD`).
    pub async fn totals(&self, launch: &str, day: &str) -> Result<DayCounts, AppError> {
        let query = [("launch", launch), ("day", day)];
        let mut response = self.send(Route::Totals, &query, None, None).await?;
        match response.status_code() {
            200 => Ok(response.json::<DayCounts>().await?),
            status => Err(self.unexpected(status)),
        }
    }

    /// Drains the shard now.
    pub async fn flush(&self) -> Result<(), AppError> {
        self.expect_ok(Route::Flush, &[]).await
    }

    /// Test hook: the shard loses its alarm (see [`Route::LoseAlarm`]).
    pub async fn lose_alarm(&self) -> Result<(), AppError> {
        self.expect_ok(Route::LoseAlarm, &[]).await
    }

    /// Forgets the live stats of days before `day` (`YYYY-MM-DD`), which it has drained.
    pub async fn forget_before(&self, day: &str) -> Result<(), AppError> {
        self.expect_ok(Route::Forget, &[("before", day)]).await
    }

    /// Calls a route whose only good answer is a bare 200.
    async fn expect_ok(&self, route: Route, query: &[(&str, &str)]) -> Result<(), AppError> {
        match self.send(route, query, None, None).await?.status_code() {
            200 => Ok(()),
            status => Err(self.unexpected(status)),
        }
    }
}
