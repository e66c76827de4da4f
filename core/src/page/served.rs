//! Where a page came from and how fresh it was: the layer that answered ([`Layer`], the
//! `X-Cache-Layer` header), the cache's verdict ([`Verdict`], `X-Cache`), and the worker
//! counters a served page adds (`cache_<verdict>`, and the per-layer
//! [`Served::page_counter`] the origin exports as `launch_edge_edge_page_served_total`).

/// Which layer answered; reported in `X-Cache-Layer` for debugging and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Memory,
    CacheApi,
    Kv,
    Origin,
    /// A slug not in the launch list: 404 at the edge, nothing stored.
    LaunchList,
}

impl Layer {
    /// The layer named as in `X-Cache-Layer` (`memory`, `cache`, `kv`; not `origin`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "memory" => Some(Layer::Memory),
            "cache" => Some(Layer::CacheApi),
            "kv" => Some(Layer::Kv),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Memory => "memory",
            Layer::CacheApi => "cache",
            Layer::Kv => "kv",
            Layer::Origin => "origin",
            Layer::LaunchList => "launch-list",
        }
    }
}

/// The edge cache's verdict on a request, as in `X-Cache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A fresh copy from a layer (or the edge's own 404 for an unknown slug).
    Hit,
    /// A stale copy within its grace, served while one revalidation runs.
    Stale,
    /// No servable copy: rendered by the origin for this request.
    Miss,
}

impl Verdict {
    /// The `X-Cache` value: `HIT`, `STALE`, `MISS`.
    pub fn header(self) -> &'static str {
        match self {
            Verdict::Hit => "HIT",
            Verdict::Stale => "STALE",
            Verdict::Miss => "MISS",
        }
    }

    /// The worker counter of the verdict: `cache_hit`, `cache_stale`, `cache_miss`.
    pub fn cache_counter(self) -> &'static str {
        match self {
            Verdict::Hit => "cache_hit",
            Verdict::Stale => "cache_stale",
            Verdict::Miss => "cache_miss",
        }
    }
}

/// How one page was served: the layer and the verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    pub layer: Layer,
    pub verdict: Verdict,
}

impl Served {
    /// The worker counter of the layer that served the page: `page_memory_hit`,
    /// `page_memory_stale`, `page_cache_api_hit`, `page_cache_api_stale`, `page_kv_hit`,
    /// `page_kv_stale`, or `page_origin_render` for a page the origin rendered (a miss,
    /// whichever layer the render was then stored in). `None` for the edge's own 404 of
    /// a slug that is not a launch: no layer served a launch page.
    pub fn page_counter(self) -> Option<&'static str> {
        let stale = self.verdict == Verdict::Stale;
        Some(match (self.layer, self.verdict) {
            (Layer::LaunchList, _) => return None,
            (Layer::Origin, _) | (_, Verdict::Miss) => "page_origin_render",
            (Layer::Memory, _) if stale => "page_memory_stale",
            (Layer::Memory, _) => "page_memory_hit",
            (Layer::CacheApi, _) if stale => "page_cache_api_stale",
            (Layer::CacheApi, _) => "page_cache_api_hit",
            (Layer::Kv, _) if stale => "page_kv_stale",
            (Layer::Kv, _) => "page_kv_hit",
        })
    }

    /// Every worker counter this page adds: its verdict's and its layer's.
    pub fn counters(self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.verdict.cache_counter()).chain(self.page_counter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(layer: Layer, verdict: Verdict) -> Served {
        Served { layer, verdict }
    }

    #[test]
    fn each_layer_and_freshness_counts_under_its_own_page_counter() {
        use Layer::*;
        use Verdict::*;
        let cases = [
            (Memory, Hit, "page_memory_hit"),
            (Memory, Stale, "page_memory_stale"),
            (CacheApi, Hit, "page_cache_api_hit"),
            (CacheApi, Stale, "page_cache_api_stale"),
            (Kv, Hit, "page_kv_hit"),
            (Kv, Stale, "page_kv_stale"),
            (Origin, Miss, "page_origin_render"),
        ];
        for (layer, verdict, name) in cases {
            assert_eq!(
                served(layer, verdict).page_counter(),
                Some(name),
                "{layer:?} {verdict:?}"
            );
        }
        let names: std::collections::BTreeSet<_> = cases
            .iter()
            .map(|(l, v, _)| served(*l, *v).page_counter())
            .collect();
        assert_eq!(names.len(), cases.len(), "no two outcomes share a counter");
    }

    #[test]
    fn a_render_counts_as_the_origins_whatever_layer_is_named_and_the_edges_404_as_none() {
        assert_eq!(
            served(Layer::Memory, Verdict::Miss).page_counter(),
            Some("page_origin_render")
        );
        assert_eq!(
            served(Layer::Origin, Verdict::Hit).page_counter(),
            Some("page_origin_render")
        );
        assert_eq!(served(Layer::LaunchList, Verdict::Hit).page_counter(), None);
        assert_eq!(
            served(Layer::LaunchList, Verdict::Hit)
                .counters()
                .collect::<Vec<_>>(),
            ["cache_hit"]
        );
    }

    #[test]
    fn a_served_page_counts_its_cache_verdict_and_its_layer() {
        assert_eq!(
            served(Layer::Kv, Verdict::Stale)
                .counters()
                .collect::<Vec<_>>(),
            ["cache_stale", "page_kv_stale"]
        );
        assert_eq!(
            served(Layer::Origin, Verdict::Miss)
                .counters()
                .collect::<Vec<_>>(),
            ["cache_miss", "page_origin_render"]
        );
        assert_eq!(
            [Verdict::Hit, Verdict::Stale, Verdict::Miss].map(Verdict::header),
            ["HIT", "STALE", "MISS"]
        );
    }

    #[test]
    fn layers_parse_from_their_header_names_except_the_origin() {
        for layer in [Layer::Memory, Layer::CacheApi, Layer::Kv] {
            assert_eq!(Layer::parse(layer.as_str()), Some(layer));
        }
        assert_eq!(Layer::parse("origin"), None);
        assert_eq!(Layer::parse("launch-list"), None);
    }
}
