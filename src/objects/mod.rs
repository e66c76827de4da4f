//! The Durable Objects, one folder each: `mod.rs` is the object, `client.rs` its typed
//! client (the only place that knows the object's paths, headers and status codes).
//! [`counter_shard`] counts one shard of one launch, [`webhook_inbox`] applies each
//! webhook delivery once, [`task_scheduler`] runs outbound tasks within their budgets.
//! Shared by them: [`drain`] (sending batches to the origin), [`sql`] (SQLite rows and
//! alarms) and [`InstanceConfig`].

use std::cell::RefCell;
use std::rc::Rc;

use launch_edge_core::config::Config;
use worker::Env;

pub mod counter_shard;
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
