//! One outbound HTTP call of a task or a monitor poll (glue): the plain
//! [`OutboundRequest`] becomes a `fetch` with a timeout, and the answer becomes an
//! [`Outcome`] plus the rate-limit headers the budgets and the backoff need.
//!
//! The bearer token is added here, at the last moment, from the [`Secret`] in the
//! configuration: it is never stored with a task, never logged, and only ever sent to the
//! Product Hunt endpoint (the request's [`Credential`] says so, and only `ph_graphql`
//! requests carry one). Redirects are not followed (`redirect: manual`), for the same
//! reason: a 3xx answer is a failed attempt, never a second request elsewhere.

use std::time::Duration;

use futures_util::future::{select, Either};
use launch_edge_proto::Secret;
use worker::{
    AbortController, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use crate::net::origin::now_ms;
use launch_edge_core::outbound::{Credential, OutboundRequest, Outcome, RateLimitInfo};

/// Error bodies are kept this long in a task's last error.
const EXCERPT_CHARS: usize = 200;

pub struct Answer {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub rate_limit: RateLimitInfo,
    /// The response body (a 2xx body in full, anything else cut to an excerpt).
    pub body: String,
}

impl Answer {
    /// `HTTP 400: {"errors":…}`, `timeout`: what the admin API shows as the last error.
    pub fn describe(&self) -> String {
        let base = self.outcome.describe();
        let body = self.body.trim();
        if self.status.is_some_and(|s| !(200..300).contains(&s)) && !body.is_empty() {
            let excerpt: String = body.chars().take(EXCERPT_CHARS).collect();
            format!("{base}: {excerpt}")
        } else {
            base
        }
    }
}

/// Sends `request`, adding `Authorization: Bearer` when it asks for the Product Hunt
/// token. Never fails: a network error or a timeout is an [`Outcome`] like a status.
pub async fn send(request: &OutboundRequest, token: Option<&Secret>, timeout_ms: u64) -> Answer {
    let failed = |outcome| Answer {
        outcome,
        status: None,
        rate_limit: RateLimitInfo::default(),
        body: String::new(),
    };
    let network = |e: worker::Error| {
        failed(Outcome::NetworkError {
            message: e.to_string(),
        })
    };
    let headers = Headers::new();
    for (name, value) in &request.headers {
        if let Err(e) = headers.set(name, value) {
            return network(e);
        }
    }
    if request.credential == Credential::ProductHuntToken {
        if let Some(token) = token {
            let value = format!("Bearer {}", String::from_utf8_lossy(token.expose()));
            if let Err(e) = headers.set("authorization", &value) {
                return network(e);
            }
        }
    }
    let mut init = RequestInit::new();
    let method = if request.method == "GET" {
        Method::Get
    } else {
        Method::Post
    };
    // Never follow a redirect: the allowlist vetted this URL, not wherever a 3xx points
    // (and a Product Hunt call carries the token). A 3xx is the task's answer: it fails.
    init.with_method(method.clone())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if method != Method::Get {
        init.with_body(Some(request.body.clone().into()));
    }
    let outgoing = match Request::new_with_init(&request.url, &init) {
        Ok(r) => r,
        Err(e) => return network(e),
    };

    let started = now_ms();
    let controller = AbortController::default();
    let signal = controller.signal();
    let timeout = Duration::from_millis(timeout_ms);
    let fetch = Fetch::Request(outgoing);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let mut response = match select(sending, Delay::from(timeout)).await {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(e), _)) => return network(e),
        Either::Right(_) => {
            controller.abort();
            return failed(Outcome::Timeout);
        }
    };
    let status = response.status_code();
    let now = now_ms();
    let rate_limit = RateLimitInfo::parse(|name| response.headers().get(name).ok().flatten(), now);
    // The body has the rest of the timeout; a body that never ends is not an answer.
    let left = timeout_ms
        .saturating_sub(now.saturating_sub(started))
        .max(1);
    let body = match select(
        Box::pin(response.text()),
        Delay::from(Duration::from_millis(left)),
    )
    .await
    {
        Either::Left((Ok(text), _)) => text,
        Either::Left((Err(_), _)) => String::new(),
        Either::Right(_) => {
            controller.abort();
            String::new()
        }
    };
    Answer {
        outcome: Outcome::status(status),
        status: Some(status),
        rate_limit,
        body,
    }
}
