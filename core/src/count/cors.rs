//! Which browser pages may send a launch's beacon (pure; the glue is `counting`).
//!
//! The beacon is public, so CORS is not authentication (a script outside a browser sends
//! what it likes, and the per-IP limit bounds it); it decides which *pages* a browser lets
//! send events and read the answers: the launch page itself (same origin), and the https
//! origins a launch lists in its file (`beacon_origins`, e.g. the team's app sending
//! signups). A request without an `Origin` header (curl, a server) is not a browser's
//! cross-origin call and is judged by the beacon's other rules only.

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginVerdict {
    /// No `Origin` header: not a cross-origin browser request.
    Absent,
    /// The launch page's own origin.
    SameOrigin,
    /// Listed by the launch: answered with `Access-Control-Allow-Origin: <it>`.
    Allowed,
    /// Any other page: 403 `origin_not_allowed`, nothing counted.
    Refused,
}

/// Judges the `Origin` header of a beacon request served at `own_origin`
/// (`https://launch.example.com`) for a launch whose file allows `allowed`.
pub fn judge(origin: Option<&str>, own_origin: &str, allowed: &[String]) -> OriginVerdict {
    let Some(origin) = origin.map(str::trim) else {
        return OriginVerdict::Absent;
    };
    // Browsers send scheme://host[:port] in lowercase, never a path.
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(own_origin) {
        OriginVerdict::SameOrigin
    } else if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        OriginVerdict::Allowed
    } else {
        OriginVerdict::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["https://app.acme.dev".into()]
    }

    #[test]
    fn the_launch_page_itself_and_the_listed_origins_may_send_the_beacon() {
        let own = "https://launch.example.com";
        assert_eq!(judge(None, own, &allowed()), OriginVerdict::Absent);
        assert_eq!(
            judge(Some("https://launch.example.com"), own, &allowed()),
            OriginVerdict::SameOrigin
        );
        assert_eq!(
            judge(Some("https://app.acme.dev"), own, &allowed()),
            OriginVerdict::Allowed
        );
        assert_eq!(
            judge(Some("HTTPS://APP.ACME.DEV"), own, &allowed()),
            OriginVerdict::Allowed
        );
    }

    #[test]
    fn any_other_page_is_refused_even_when_it_only_looks_like_a_listed_one() {
        let own = "https://launch.example.com";
        for origin in [
            "https://evil.example",
            "http://app.acme.dev",
            "https://app.acme.dev.evil.example",
            "https://evil-app.acme.dev",
            "null",
            "",
        ] {
            assert_eq!(
                judge(Some(origin), own, &allowed()),
                OriginVerdict::Refused,
                "{origin}"
            );
        }
        assert_eq!(
            judge(Some("https://app.acme.dev"), own, &[]),
            OriginVerdict::Refused
        );
    }
}
