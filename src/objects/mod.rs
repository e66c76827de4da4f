//! The Durable Objects, one folder each: `mod.rs` is the object, `client.rs` its typed
//! client (the only place that knows the object's paths, headers and status codes).
//! [`counter_shard`] counts one shard of one launch, [`webhook_inbox`] applies each
//! webhook delivery once, [`task_scheduler`] runs outbound tasks within their budgets.
//! Shared by them: [`drain`] (sending batches to the origin), [`dead_letters`] (the
//! batches the origin refused), [`sql`] (SQLite rows and
//! alarms) and [`InstanceConfig`].

use std::cell::RefCell;
use std::rc::Rc;

use launch_edge_core::config::Config;
use worker::Env;

pub mod counter_shard;
pub mod dead_letters;
pub mod drain;
pub mod sql;
pub mod task_scheduler;
pub mod webhook_inbox;

/// An object's configuration, parsed on first use and kept for the instance's life (a
/// deploy starts new instances).
#[derive(Default)]
pub struct InstanceConfig(RefCell<Option<Rc<Config>>>);

impl InstanceConfig {
    pub fn get(&self, env: &Env) -> worker::Result<Rc<Config>> {
        if let Some(config) = self.0.borrow().as_ref() {
            return Ok(config.clone());
        }
        let config = crate::edge::config_from_env(env)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let config = Rc::new(config);
        *self.0.borrow_mut() = Some(config.clone());
        Ok(config)
    }
}

/// One call to a Durable Object stub: the request every typed client sends, built in one
/// place (`https://<object>/<path>`; the host is never read).
pub(crate) async fn call(
    stub: &worker::Stub,
    method: worker::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<worker::Response, crate::error::AppError> {
    let h = worker::Headers::new();
    for (name, value) in headers {
        h.set(name, value)?;
    }
    if body.is_some() {
        h.set("content-type", "application/json")?;
    }
    let mut init = worker::RequestInit::new();
    init.with_method(method).with_headers(h);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let url = format!("https://object{path}");
    Ok(stub
        .fetch_with_request(worker::Request::new_with_init(&url, &init)?)
        .await?)
}

/// The stub of the object `name` in namespace `binding`.
pub(crate) fn stub(
    env: &Env,
    binding: &str,
    name: &str,
) -> Result<worker::Stub, crate::error::AppError> {
    Ok(env
        .durable_object(binding)?
        .id_from_name(name)?
        .get_stub()?)
}
