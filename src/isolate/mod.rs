//! What one isolate keeps between requests: the pages in memory ([`memory`]), origin
//! fetches coalesced per key ([`single_flight`]), counted events grouped into shard calls
//! ([`batcher`]), worker counters aggregated before they leave ([`tally`]), and the
//! test hooks' armed faults ([`shard_faults`]). The first three share work between
//! requests; [`handoff`] is the one way a request gives others its result.

pub mod batcher;
pub mod handoff;
pub mod memory;
pub mod shard_faults;
pub mod single_flight;
pub mod tally;
