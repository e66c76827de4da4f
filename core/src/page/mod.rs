//! Landing pages at the edge: the normalised cache key of a request ([`key`]), a cached
//! page and its freshness ([`entry`]), the list that keeps random slugs off the origin
//! ([`known_launches`]), and how a page was served and what that counts ([`served`]).

pub mod entry;
pub mod key;
pub mod known_launches;
pub mod served;
