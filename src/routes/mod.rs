//! One module per public surface, each a set of handlers taking the request and the
//! [`crate::edge::Edge`]: [`pages`] (`GET /launch/:slug`), [`counting`] (`/go`, the beacon,
//! signed conversions, stats), [`webhooks`] (`POST /webhooks/:source`), [`admin`] (bearer
//! operations), [`tasks`] (`/admin/tasks`, `/admin/monitor`) and [`test_hooks`] (fault
//! injection, closed unless enabled).

pub mod admin;
pub mod counting;
pub mod pages;
pub mod tasks;
pub mod test_hooks;
pub mod webhooks;
