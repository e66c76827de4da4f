//! `POST /webhooks/:source` (glue): verify a signed event with the pure `webhooks`
//! module, then hand it to its `WebhookInbox`, which dedupes, counts a conversion once
//! and stores the event for the origin.
//!
//! Order, cheapest refusal first: unknown source 404; a declared `Content-Length` above
//! `MAX_BODY_BYTES` 413 before the body is read; the raw bytes read and bounded again
//! (a body without a length); then `webhooks::receive` (400 header problems and
//! non-JSON, 401 stale timestamp or no matching signature, with a reason code that never
//! contains an expected signature). Nothing is stored or counted before verification.
//!
//! Sources are parsed here (once per isolate) rather than in `Config`: a mistake in one
//! webhook secret then breaks only `/webhooks/*` (500 `misconfigured`, logged with the
//! variable's name, never its value), not the launch pages.
//!
//! The answer is 200 `{"received": true, "duplicate": false}` for a new event, and 200
//! `{"received": true, "duplicate": true}` with `X-Webhook-Duplicate: true` for one
//! already delivered within the source's dedupe window (4 days by default; applied no
//! second time). A sender retries anything else, which is safe for the same reason.

use std::cell::RefCell;
use std::rc::Rc;

use launch_edge_proto::batch::WebhookEventRecord;
use serde_json::json;
use worker::{Env, Request, Response};

use crate::error::AppError;
use crate::net::origin::now_ms;
use crate::objects::webhook_inbox::client::InboxClient;
use launch_edge_core::bindings;
use launch_edge_core::config::ConfigError;
use launch_edge_core::webhooks::inbox::{counted_event, inbox_name, Delivery};
use launch_edge_core::webhooks::{
    receive as verify_and_interpret, WebhookError, WebhookSources, MAX_BODY_BYTES,
};

/// Marks an answer to a duplicate delivery.
pub const DUPLICATE_HEADER: &str = "x-webhook-duplicate";

fn lookup(env: &Env) -> impl Fn(&str) -> Option<String> + '_ {
    |name| {
        env.var(name)
            .map(|v| v.to_string())
            .or_else(|_| env.secret(name).map(|s| s.to_string()))
            .ok()
    }
}

/// The sources, parsed once per isolate (vars and secrets are fixed for its lifetime, as
/// the objects parse theirs once per instance): a flood of forged deliveries then costs
/// no configuration parsing per request. A configuration that does not parse is not kept, so every
/// request reports it.
fn sources(env: &Env) -> Result<Rc<WebhookSources>, AppError> {
    thread_local! {
        static SOURCES: RefCell<Option<Rc<WebhookSources>>> = const { RefCell::new(None) };
    }
    if let Some(sources) = SOURCES.with(|s| s.borrow().clone()) {
        return Ok(sources);
    }
    let sources = Rc::new(WebhookSources::parse(lookup(env)).map_err(|e| {
        AppError::Config(ConfigError::Invalid {
            name: bindings::WEBHOOK_SOURCES,
            reason: e.to_string(),
        })
    })?);
    SOURCES.with(|s| *s.borrow_mut() = Some(sources.clone()));
    Ok(sources)
}

pub async fn receive(
    req: &mut Request,
    source_name: &str,
    env: &Env,
) -> Result<Response, AppError> {
    let sources = sources(env)?;
    let source = sources.get(source_name)?;
    // Read with a running limit: a chunked body has no length to check first.
    let body = super::read_body_limited(req, MAX_BODY_BYTES)
        .await?
        .ok_or(WebhookError::BodyTooLarge)?;
    let headers = req.headers();
    let received_at = now_ms() as i64;
    let event = verify_and_interpret(
        source,
        |name| headers.get(name).ok().flatten(),
        &body,
        received_at.div_euclid(1000),
    )?;
    let count = event
        .conversion
        .as_ref()
        .map(|c| counted_event(c, received_at))
        .transpose()?;
    let record: WebhookEventRecord = event.record(&source.name, received_at);
    let inbox = InboxClient::named(env, inbox_name(&source.name, &event.event_id))?;
    let answer = inbox
        .deliver(&Delivery {
            record,
            count,
            dedupe_window_ms: Some(source.dedupe_window_ms),
        })
        .await?;
    let mut response = Response::from_json(&json!({
        "received": true,
        "duplicate": answer.duplicate,
        "event_id": event.event_id,
    }))?;
    if answer.duplicate {
        response.headers_mut().set(DUPLICATE_HEADER, "true")?;
    }
    Ok(response)
}
