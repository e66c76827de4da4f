//! Unit tests of launch-file values and canonical specs.

use super::*;

#[test]
fn a_pacific_launch_time_becomes_utc_across_daylight_saving() {
    let winter = LaunchTime::parse("2026-12-10T00:01:00").unwrap();
    assert_eq!(winter.utc().to_rfc3339(), "2026-12-10T08:01:00+00:00");
    assert_eq!(winter.to_string(), "2026-12-10T00:01:00-08:00");
    let summer = LaunchTime::parse("2026-07-01T00:01").unwrap();
    assert_eq!(summer.utc().to_rfc3339(), "2026-07-01T07:01:00+00:00");
    assert_eq!(summer.to_string(), "2026-07-01T00:01:00-07:00");
}

#[test]
fn an_explicit_offset_is_kept_as_the_same_instant_in_pacific_time() {
    let t = LaunchTime::parse("2026-12-10T08:01:00Z").unwrap();
    assert_eq!(t.to_string(), "2026-12-10T00:01:00-08:00");
    let t = LaunchTime::parse("2026-11-01T01:30:00-07:00").unwrap();
    assert_eq!(t.utc().to_rfc3339(), "2026-11-01T08:30:00+00:00");
}

#[test]
fn a_host_pattern_allows_its_subdomains_and_nothing_that_merely_ends_like_it() {
    let host = HostPattern::parse("Acme.dev").unwrap();
    assert!(host.covers("acme.dev"));
    assert!(host.covers("app.acme.dev"));
    assert!(!host.covers("evilacme.dev"));
    assert!(!host.covers("acme.dev.evil.example"));
    for bad in [
        "*.acme.dev",
        "https://acme.dev",
        "acme.dev/x",
        "localhost",
        "10.0.0.1",
    ] {
        assert!(HostPattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_beacon_origin_is_scheme_and_host_only() {
    assert_eq!(
        HttpsOrigin::parse("https://App.Acme.dev")
            .unwrap()
            .to_string(),
        "https://app.acme.dev"
    );
    assert_eq!(
        HttpsOrigin::parse("https://acme.dev:8443/")
            .unwrap()
            .to_string(),
        "https://acme.dev:8443"
    );
    for bad in [
        "http://acme.dev",
        "https://acme.dev/app",
        "https://acme.dev?x=1",
    ] {
        assert!(HttpsOrigin::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_cta_url_with_credentials_or_an_ip_address_is_refused() {
    assert!(HttpsUrl::parse("https://user:pw@acme.dev/").is_err());
    assert!(HttpsUrl::parse("https://127.0.0.1/").is_err());
    assert!(HttpsUrl::parse("https://acme.dev/signup?plan=a").is_ok());
}

#[test]
fn the_canonical_file_validates_to_the_same_spec() {
    let file = LaunchFile::from_toml(crate::launches::DEMO_FILE).unwrap();
    let spec = LaunchSpec::validate(&file, &Rules::default()).unwrap();
    let again = LaunchSpec::validate(&spec.to_file(), &Rules::default()).unwrap();
    assert_eq!(spec, again);
    assert_eq!(spec.business.total_spend(), 50_000);
}
