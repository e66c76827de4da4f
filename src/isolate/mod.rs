//! What one isolate keeps between requests: the pages in memory ([`memory`]), origin
//! fetches coalesced per key ([`single_flight`]), counted events grouped into shard calls
//! ([`batcher`]) and worker counters aggregated before they leave ([`tally`]).

pub mod batcher;
pub mod memory;
pub mod single_flight;
pub mod tally;
