//! The typed client of [`super::WebhookInbox`]: hands a verified delivery to its inbox
//! and reads the answer. The inbox's routes are spelled here once ([`Route`]) and matched
//! by the object.

use launch_edge_core::bindings;
use launch_edge_core::webhooks::inbox::{Delivery, InboxAnswer};
use worker::{Env, Method, Stub};

use crate::error::AppError;
use crate::objects::dead_letters::{DeadLetterHolder, DEAD_LETTERS_PATH, REQUEUE_PATH};

/// The object's name, sent by the worker with every call.
pub const INBOX_HEADER: &str = "x-inbox";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /deliver`: a [`Delivery`]; 200 with an [`InboxAnswer`] once recorded.
    Deliver,
    /// `POST /flush`: drain now.
    Flush,
    /// `GET /dead-letters` and `POST /dead-letters/requeue` (see [`crate::objects::dead_letters`]).
    DeadLetters,
    Requeue,
}

impl Route {
    const ALL: [Route; 4] = [
        Route::Deliver,
        Route::Flush,
        Route::DeadLetters,
        Route::Requeue,
    ];

    pub fn method_and_path(self) -> (Method, &'static str) {
        match self {
            Route::Deliver => (Method::Post, "/deliver"),
            Route::Flush => (Method::Post, "/flush"),
            Route::DeadLetters => (Method::Get, DEAD_LETTERS_PATH),
            Route::Requeue => (Method::Post, REQUEUE_PATH),
        }
    }

    pub fn of(method: &Method, path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| {
            let (m, p) = r.method_and_path();
            &m == method && p == path
        })
    }
}

/// One webhook inbox, by name (`inbox/{source}/{index}`).
pub struct InboxClient {
    stub: Stub,
    name: String,
}

impl InboxClient {
    /// The dead letters of object `name` (no stub is made until a call).
    pub fn dead_letters(name: String) -> DeadLetterHolder {
        DeadLetterHolder::new(bindings::WEBHOOK_INBOX, INBOX_HEADER, name)
    }

    pub fn named(env: &Env, name: String) -> Result<Self, AppError> {
        let stub = crate::objects::stub(env, bindings::WEBHOOK_INBOX, &name)?;
        Ok(Self { stub, name })
    }

    /// Hands the event to its inbox and waits until it is recorded (or known).
    pub async fn deliver(&self, delivery: &Delivery) -> Result<InboxAnswer, AppError> {
        let (method, path) = Route::Deliver.method_and_path();
        let headers = [(INBOX_HEADER, self.name.as_str())];
        let body = serde_json::to_string(delivery)?;
        let mut response =
            crate::objects::call(&self.stub, method, path, &headers, Some(body)).await?;
        match response.status_code() {
            200 => Ok(response.json::<InboxAnswer>().await?),
            status => Err(AppError::Internal(format!(
                "inbox {} answered {status}",
                self.name
            ))),
        }
    }
}
