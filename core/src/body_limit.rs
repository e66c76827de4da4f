//! A request body read with a running byte limit (pure; the glue feeds it the stream's
//! chunks as they arrive).
//!
//! `Content-Length` is only a claim: a chunked body has none, and a sender may lie. So
//! the limit is enforced on the bytes themselves, chunk by chunk, and reading stops at
//! the first chunk that crosses it: a stranger can make the worker hold at most `limit`
//! bytes plus one chunk, however long the body they stream.

/// The body went past its limit; nothing more is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

#[derive(Debug)]
pub struct LimitedBody {
    limit: usize,
    bytes: Vec<u8>,
}

impl LimitedBody {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            bytes: Vec::new(),
        }
    }

    /// Refuses a declared length over the limit before anything is read.
    pub fn check_declared(&self, content_length: Option<&str>) -> Result<(), TooLarge> {
        match content_length.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(length) if length > self.limit as u64 => Err(TooLarge),
            _ => Ok(()),
        }
    }

    /// Adds one chunk; `Err` as soon as the total passes the limit (stop reading then).
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        if chunk.len() > self.limit - self.bytes.len() {
            return Err(TooLarge);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_up_to_the_limit_is_kept_whole() {
        let mut body = LimitedBody::new(10);
        for chunk in [&b"abc"[..], b"", b"defg", b"hij"] {
            body.push(chunk).unwrap();
        }
        assert_eq!(body.into_bytes(), b"abcdefghij");
    }

    #[test]
    fn the_chunk_that_crosses_the_limit_stops_the_read_and_is_not_kept() {
        let mut body = LimitedBody::new(10);
        body.push(b"0123456789").unwrap();
        assert_eq!(body.push(b"x"), Err(TooLarge));
        let mut body = LimitedBody::new(4);
        assert_eq!(body.push(&[0; 1 << 20]), Err(TooLarge));
        assert!(
            body.into_bytes().is_empty(),
            "an oversized chunk is not copied"
        );
    }

    #[test]
    fn a_declared_length_over_the_limit_is_refused_and_a_missing_or_bogus_one_is_not_trusted() {
        let body = LimitedBody::new(4096);
        assert_eq!(body.check_declared(Some("4097")), Err(TooLarge));
        assert_eq!(body.check_declared(Some(" 4096 ")), Ok(()));
        // Without a usable length the running limit still applies while reading.
        assert_eq!(body.check_declared(None), Ok(()));
        assert_eq!(body.check_declared(Some("lots")), Ok(()));
    }
}
