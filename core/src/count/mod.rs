//! Counting, exactly: what a counter shard holds and sends ([`shard`]), how an isolate
//! groups its events into shard calls ([`lanes`]), and what strangers may send to be
//! counted: the page's beacon body ([`beacon`]), signed server-side conversions
//! ([`conversion`]) and which pages may send a beacon ([`cors`]).

pub mod beacon;
pub mod conversion;
pub mod cors;
pub mod lanes;
pub mod shard;
