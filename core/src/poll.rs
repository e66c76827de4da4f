//! How often a request looks for a value another request of the same isolate hands it
//! (pure; the glue, and why it looks instead of being woken, is `src/isolate/handoff.rs`).
//!
//! The first look comes [`FIRST_PAUSE_MS`] after the wait begins, so a hand-off that is
//! already on its way costs about a millisecond; each later pause doubles up to the cap
//! the caller chose, so a long wait costs a handful of wake-ups per second, not hundreds.

/// The pause before the first look.
pub const FIRST_PAUSE_MS: u64 = 1;

/// The pauses between looks: [`FIRST_PAUSE_MS`], doubling, never above the cap.
#[derive(Debug, Clone)]
pub struct Pauses {
    next_ms: u64,
    cap_ms: u64,
}

impl Pauses {
    /// Pauses that grow to at most `cap_ms` (at least [`FIRST_PAUSE_MS`]).
    pub fn up_to(cap_ms: u64) -> Self {
        Self {
            next_ms: FIRST_PAUSE_MS,
            cap_ms: cap_ms.max(FIRST_PAUSE_MS),
        }
    }

    /// The next pause in milliseconds; the pauses never run out.
    pub fn next_pause(&mut self) -> u64 {
        let pause = self.next_ms;
        self.next_ms = pause.saturating_mul(2).min(self.cap_ms);
        pause
    }

    /// Starts over from the first pause (something happened: look again soon).
    pub fn reset(&mut self) {
        self.next_ms = FIRST_PAUSE_MS;
    }
}

impl Iterator for Pauses {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        Some(self.next_pause())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_look_comes_after_a_millisecond_and_pauses_double_up_to_the_cap() {
        let pauses: Vec<u64> = Pauses::up_to(8).take(7).collect();
        assert_eq!(pauses, vec![1, 2, 4, 8, 8, 8, 8]);
    }

    #[test]
    fn a_cap_that_is_not_a_power_of_two_is_still_never_exceeded() {
        let pauses: Vec<u64> = Pauses::up_to(5).take(5).collect();
        assert_eq!(pauses, vec![1, 2, 4, 5, 5]);
    }

    #[test]
    fn a_reset_starts_again_from_the_first_pause() {
        let mut pauses = Pauses::up_to(16);
        pauses.by_ref().take(4).for_each(drop);
        pauses.reset();
        assert_eq!(pauses.next(), Some(1));
    }

    #[test]
    fn a_zero_cap_still_pauses_between_looks() {
        assert!(Pauses::up_to(0).take(3).all(|p| p == FIRST_PAUSE_MS));
    }

    #[test]
    fn a_twenty_second_wait_costs_a_few_thousand_looks_at_most() {
        // Cost of the longest wait (a click's 20 s patience) at an 8 ms cap.
        let mut waited = 0;
        let looks = Pauses::up_to(8)
            .take_while(|p| {
                waited += p;
                waited <= 20_000
            })
            .count();
        assert!(looks <= 2_505, "{looks} looks");
    }
}
