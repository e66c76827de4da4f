//! Any body on the origin's `/ingest/batch` (after its signature): `validate` never panics,
//! and a batch it accepts is within the shared bounds.
#![no_main]

use launch_edge_origin::ingest::validate;
use launch_edge_proto::batch::{MAX_BATCH_BYTES, MAX_BATCH_ROWS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = validate(data) {
        assert!(data.len() <= MAX_BATCH_BYTES);
        assert!(batch.rows >= 0 && batch.rows as usize <= MAX_BATCH_ROWS);
    }
});
