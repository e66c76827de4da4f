//! Who is visiting, without keeping who they are: the source of a visit
//! ([`attribution`]), crawlers apart from people ([`bots`]), and the daily-salted
//! visitor hash and per-IP limiter key ([`visitors`]).

pub mod attribution;
pub mod bots;
pub mod visitors;
