//! Random sources for jitter, kept outside the logic that uses them.
//!
//! Backoff takes any [`rand_core::RngCore`], so tests and the time-compressed launch
//! simulation pass a seeded generator and get the same delays every run, while the edge
//! passes real randomness. Two small adapters avoid pulling a full `rand` into the WASM
//! build: [`SplitMix64`] (a seeded generator, also handy to seed once per isolate from the
//! JS clock or `crypto.getRandomValues`) and [`FnRng`] (wraps a `FnMut() -> u64`, for
//! example one built on `Math.random()`).

use rand_core::{impls, Error, RngCore};

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, statistically sound for jitter.
/// Not for secrets.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }
}

impl RngCore for SplitMix64 {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// Adapts a `FnMut() -> u64` source of uniformly random 64-bit values to [`RngCore`].
pub struct FnRng<F: FnMut() -> u64>(pub F);

impl<F: FnMut() -> u64> RngCore for FnRng<F> {
    fn next_u32(&mut self) -> u32 {
        ((self.0)() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        (self.0)()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        impls::fill_bytes_via_next(self, dest)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// A uniform draw from `0..=max`. Multiply-shift rather than modulo: the bias is below
/// 2^-40 for any delay in milliseconds, far under anything a retry schedule can notice.
pub fn uniform_inclusive(rng: &mut impl RngCore, max: u64) -> u64 {
    if max == u64::MAX {
        return rng.next_u64();
    }
    ((u128::from(rng.next_u64()) * (u128::from(max) + 1)) >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SplitMix64::new(43).next_u64(), xs[0]);
    }

    #[test]
    fn uniform_draws_stay_within_bounds_including_both_ends() {
        let mut rng = SplitMix64::new(7);
        let draws: Vec<u64> = (0..2000).map(|_| uniform_inclusive(&mut rng, 3)).collect();
        assert!(draws.iter().all(|&d| d <= 3));
        for v in 0..=3 {
            assert!(draws.contains(&v), "value {v} never drawn");
        }
        assert_eq!(uniform_inclusive(&mut rng, 0), 0);
    }

    #[test]
    fn a_function_source_drives_the_adapter() {
        let mut n = 0u64;
        let mut rng = FnRng(|| {
            n += 1;
            n << 32
        });
        assert_eq!(rng.next_u64(), 1 << 32);
        assert_eq!(rng.next_u32(), 2);
        let mut buf = [0u8; 12];
        rng.fill_bytes(&mut buf);
        assert_ne!(buf, [0u8; 12]);
    }
}
