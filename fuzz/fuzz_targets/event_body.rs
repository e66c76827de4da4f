//! Any beacon or signed-conversion body: `parse_event` never panics, refuses anything over
//! the size bound, and without `amounts` (the public beacon) never lets money through.
#![no_main]

use launch_edge_core::count::beacon::{parse_event, EventRules, MAX_EVENT_BODY_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let public = EventRules {
        amounts: false,
        ..EventRules::default()
    };
    if let Ok(event) = parse_event(data, &public) {
        assert!(data.len() <= MAX_EVENT_BODY_BYTES);
        assert_eq!(event.amount_cents, 0, "a public beacon carried money");
        assert!(event.currency.is_none(), "a public beacon carried a currency");
    }
    if let Ok(event) = parse_event(data, &EventRules::default()) {
        assert!(data.len() <= MAX_EVENT_BODY_BYTES);
        assert!(event.amount_cents >= 0);
        if let Some(code) = event.currency {
            assert!(code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()));
        }
    }
});
