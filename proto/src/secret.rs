//! A secret that never shows itself in logs, errors or `Debug` output.

use std::fmt;

/// The shortest key or bearer token either side accepts: 32 bytes, so neither can be
/// guessed or brute-forced in any useful time.
pub const MIN_SECRET_BYTES: usize = 32;

/// Key material (HMAC keys, bearer tokens). Cloning is allowed; printing is not.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The raw key bytes; call only where the key is used (HMAC, comparison).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison against a presented value, e.g. a bearer token.
    pub fn matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        // Lengths are not secret-dependent in a way that matters for tokens,
        // but compare digests so the comparison time never depends on where bytes differ.
        use sha2::{Digest, Sha256};
        let a = Sha256::digest(&self.0);
        let b = Sha256::digest(presented);
        !self.0.is_empty() && bool::from(a.ct_eq(&b))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert_eq!(format!("{s}"), "[REDACTED]");
    }

    #[test]
    fn matches_only_the_exact_value() {
        let s = Secret::new("token-123");
        assert!(s.matches(b"token-123"));
        assert!(!s.matches(b"token-124"));
        assert!(!s.matches(b"token-12"));
        assert!(!s.matches(b""));
    }

    #[test]
    fn an_empty_secret_matches_nothing() {
        assert!(!Secret::new("").matches(b""));
    }
}
