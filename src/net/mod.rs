//! Calls that leave the worker: signed requests to the origin ([`origin`]) and outbound
//! engagement requests with their timeouts and manual redirects ([`outbound`]).

pub mod origin;
pub mod outbound;
