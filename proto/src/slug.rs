//! The launch slug: lowercase ASCII letters, digits and single dashes, 1 to 64 characters.

use std::fmt;

pub const MAX_SLUG_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("slug is empty")]
    Empty,
    #[error("slug is longer than {MAX_SLUG_LEN} characters")]
    TooLong,
    #[error("slug may contain only a-z, 0-9 and '-', and may not start or end with '-'")]
    BadCharacters,
}

impl SlugError {
    /// Stable machine-readable code for error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            SlugError::Empty => "slug_empty",
            SlugError::TooLong => "slug_too_long",
            SlugError::BadCharacters => "slug_bad_characters",
        }
    }
}

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, SlugError> {
        if raw.is_empty() {
            return Err(SlugError::Empty);
        }
        if raw.len() > MAX_SLUG_LEN {
            return Err(SlugError::TooLong);
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !raw.chars().all(allowed)
            || raw.starts_with('-')
            || raw.ends_with('-')
            || raw.contains("--")
        {
            return Err(SlugError::BadCharacters);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_slugs_parse() {
        for ok in ["a", "acme", "acme-rocket-2", "9lives"] {
            assert_eq!(Slug::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn traversal_uppercase_and_odd_characters_are_rejected() {
        for bad in [
            "..", "../etc", "a/b", "Acme", "acme_", "a b", "a%2e", "-a", "a-", "a--b", "é",
        ] {
            assert_eq!(Slug::parse(bad), Err(SlugError::BadCharacters), "{bad}");
        }
    }

    #[test]
    fn empty_and_overlong_slugs_are_rejected() {
        assert_eq!(Slug::parse(""), Err(SlugError::Empty));
        assert_eq!(Slug::parse(&"a".repeat(64)).unwrap().as_str().len(), 64);
        assert_eq!(Slug::parse(&"a".repeat(65)), Err(SlugError::TooLong));
    }
}
