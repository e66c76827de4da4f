//! [`Edge`]: what every handler needs of one request's surroundings, built once by the
//! router and passed down: the bindings (`env`), the request's `ctx` (for `wait_until`)
//! and the isolate's parsed [`Config`].

use std::rc::Rc;

use launch_edge_core::bindings;
use launch_edge_core::config::{Config, ConfigError};
use worker::{Context, Env};

pub struct Edge {
    pub env: Env,
    pub ctx: Context,
    pub config: Rc<Config>,
}

impl Edge {
    /// The request's context with the isolate's configuration (parsed on its first
    /// request and kept: vars and secrets cannot change under a running isolate, a deploy
    /// starts new isolates, and parsing a dozen bindings through JS on every request is
    /// measurable on the hot path).
    pub fn new(env: Env, ctx: Context) -> Result<Self, (Env, ConfigError)> {
        thread_local! {
            static CONFIG: std::cell::RefCell<Option<Rc<Config>>> = const { std::cell::RefCell::new(None) };
        }
        let config = match CONFIG.with(|c| c.borrow().clone()) {
            Some(config) => config,
            None => match config_from_env(&env) {
                Ok(config) => {
                    let config = Rc::new(config);
                    CONFIG.with(|c| *c.borrow_mut() = Some(config.clone()));
                    config
                }
                Err(e) => return Err((env, e)),
            },
        };
        Ok(Self { env, ctx, config })
    }
}

/// Parses the configuration from the worker's vars and secrets. Durable Objects call it
/// once per instance and keep the result.
pub fn config_from_env(env: &Env) -> Result<Config, ConfigError> {
    Config::parse(|name| {
        env.var(name)
            .map(|v| v.to_string())
            .or_else(|_| env.secret(name).map(|s| s.to_string()))
            .ok()
    })
}

/// Whether this deployment has the test hooks (`TEST_HOOKS = "enabled"`, never in
/// `wrangler.toml`): the router's `/admin/test/...` and the objects' test-only routes.
pub fn test_hooks_enabled(env: &Env) -> bool {
    env.var(bindings::TEST_HOOKS)
        .is_ok_and(|v| v.to_string() == "enabled")
}
