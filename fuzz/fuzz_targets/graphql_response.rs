//! Any answer from the Product Hunt GraphQL API (body and rate-limit headers): the poll
//! reader and the rate-limit header reader never panic, whatever the API (or something
//! pretending to be it) sends.
#![no_main]

use launch_edge_core::outbound::milestones::PollRecord;
use launch_edge_core::outbound::rate_limit::RateLimitInfo;
use libfuzzer_sys::fuzz_target;

const NOW_MS: u64 = 1_764_300_000_000;

fuzz_target!(|data: &[u8]| {
    // The first line is a header block (`name: value` pairs separated by `;`), the rest the body.
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body.get(1..).unwrap_or(&[])) {
        if let Ok(record) = PollRecord::from_response("fuzz-launch", &value, NOW_MS) {
            assert!(record.id().starts_with("poll:fuzz-launch:"));
        }
    }
    let head = String::from_utf8_lossy(head);
    let header = |name: &str| {
        head.split(';').find_map(|pair| {
            let (k, v) = pair.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let limit = RateLimitInfo::parse(header, NOW_MS);
    for status in [None, Some(200), Some(429), Some(503)] {
        let _ = limit.server_delay_ms(status);
    }
});
