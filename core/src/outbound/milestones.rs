//! The launch monitor's pure half: what it asks Product Hunt, what it records, and which
//! vote milestones a poll crosses.
//!
//! A poll can jump over several milestones at once (polls are minutes apart during a
//! launch), and the monitor may run again after a crash, so [`MilestoneState::observe`]
//! returns every configured milestone at or below the count that has not fired yet and
//! remembers it: each fires once, in ascending order, even if the count later drops
//! (Product Hunt removes votes it judges fraudulent) and climbs back.
//!
//! [`PollRecord`] is one point of the series sent to the origin; its [`PollRecord::id`]
//! is deterministic (launch and observation time), so a resent batch is applied once.

use std::collections::BTreeSet;

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The monitor's query: 5 complexity points (the post, and four scalar fields).
pub const MONITOR_QUERY: &str =
    "query LaunchMonitor($slug: String!) { post(slug: $slug) { id votesCount commentsCount featuredAt } }";

/// The monitor query's estimated cost, for [`super::budget::Budget::admit`].
pub const MONITOR_QUERY_COST: u64 = 5;

/// The GraphQL payload polling the post of `slug`.
pub fn monitor_payload(slug: &str) -> Value {
    json!({ "query": MONITOR_QUERY, "variables": { "slug": slug } })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("milestone {0:?} is not a positive whole number of votes")]
pub struct MilestoneConfigError(pub String);

/// Parses `100, 250, 500` (commas or spaces) into sorted, distinct milestones.
pub fn parse_milestones(spec: &str) -> Result<Vec<u64>, MilestoneConfigError> {
    let mut out: Vec<u64> = spec
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| MilestoneConfigError(s.to_owned()))
        })
        .collect::<Result<_, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Milestones reached by `votes` that are not in `fired`, ascending.
pub fn newly_crossed(milestones: &[u64], fired: &BTreeSet<u64>, votes: u64) -> Vec<u64> {
    let mut crossed: Vec<u64> = milestones
        .iter()
        .copied()
        .filter(|m| *m <= votes && !fired.contains(m))
        .collect();
    crossed.sort_unstable();
    crossed.dedup();
    crossed
}

/// The idempotency key of the alert task a milestone enqueues: the same on every
/// monitor run, so an alert enqueued twice is delivered once.
pub fn milestone_task_key(launch: &str, milestone: u64) -> String {
    format!("milestone:{launch}:{milestone}")
}

/// The milestones a launch has already fired (stored by the monitor between polls).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MilestoneState {
    pub fired: BTreeSet<u64>,
}

impl MilestoneState {
    /// The milestones this observation crosses for the first time, now marked fired.
    pub fn observe(&mut self, milestones: &[u64], votes: u64) -> Vec<u64> {
        let crossed = newly_crossed(milestones, &self.fired, votes);
        self.fired.extend(crossed.iter().copied());
        crossed
    }
}

/// One observation of a launch's Product Hunt post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRecord {
    /// The launch slug (ours, which names the launch everywhere).
    pub launch: String,
    pub post_id: Option<String>,
    pub votes: u64,
    pub comments: u64,
    /// When Product Hunt featured the post, if it has.
    pub featured_at_ms: Option<u64>,
    pub observed_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PollError {
    #[error("Product Hunt answered with GraphQL errors: {0}")]
    Api(String),
    #[error("Product Hunt has no post with this slug")]
    NotFound,
    #[error("the response lacks {0}")]
    Malformed(&'static str),
}

impl PollRecord {
    /// Reads `{"data":{"post":{votesCount, commentsCount, featuredAt, id}}}`.
    pub fn from_response(
        launch: &str,
        body: &Value,
        observed_at_ms: u64,
    ) -> Result<Self, PollError> {
        if let Some(errors) = body
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .collect();
            return Err(PollError::Api(messages.join("; ")));
        }
        let post = body
            .get("data")
            .ok_or(PollError::Malformed("data"))?
            .get("post");
        let post = match post {
            None | Some(Value::Null) => return Err(PollError::NotFound),
            Some(p) => p,
        };
        let count = |field: &'static str| {
            post.get(field)
                .and_then(Value::as_u64)
                .ok_or(PollError::Malformed(field))
        };
        let featured_at_ms = post
            .get("featuredAt")
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .and_then(|t| u64::try_from(t.timestamp_millis()).ok());
        Ok(Self {
            launch: launch.to_owned(),
            post_id: post.get("id").and_then(Value::as_str).map(str::to_owned),
            votes: count("votesCount")?,
            comments: count("commentsCount")?,
            featured_at_ms,
            observed_at_ms,
        })
    }

    /// A deterministic id for exactly-once application at the origin.
    pub fn id(&self) -> String {
        format!("poll:{}:{}", self.launch, self.observed_at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::graphql::Document;

    const MILESTONES: &[u64] = &[100, 250, 500];

    #[test]
    fn milestones_parse_sorted_and_distinct() {
        assert_eq!(
            parse_milestones("500, 100,250 100").unwrap(),
            [100, 250, 500]
        );
        assert_eq!(parse_milestones("").unwrap(), Vec::<u64>::new());
        for bad in ["0", "-5", "1e3", "ten", "100;250"] {
            assert!(parse_milestones(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn milestone_alerts_have_stable_valid_idempotency_keys() {
        let key = milestone_task_key("acme-app", 250);
        assert_eq!(key, "milestone:acme-app:250");
        assert!(crate::outbound::task::is_valid_idempotency_key(&key));
    }

    #[test]
    fn nothing_fires_below_the_first_milestone() {
        let mut state = MilestoneState::default();
        assert!(state.observe(MILESTONES, 99).is_empty());
        assert!(state.fired.is_empty());
    }

    #[test]
    fn reaching_a_milestone_exactly_fires_it_once() {
        let mut state = MilestoneState::default();
        assert_eq!(state.observe(MILESTONES, 100), [100]);
        assert!(state.observe(MILESTONES, 100).is_empty());
        assert!(state.observe(MILESTONES, 180).is_empty());
    }

    #[test]
    fn a_poll_that_jumps_over_several_milestones_fires_each_once_in_order() {
        let mut state = MilestoneState::default();
        assert_eq!(state.observe(MILESTONES, 120), [100]);
        assert_eq!(state.observe(MILESTONES, 730), [250, 500]);
        assert!(state.observe(MILESTONES, 1_000).is_empty());
    }

    #[test]
    fn a_count_that_drops_and_climbs_back_does_not_fire_again() {
        let mut state = MilestoneState::default();
        assert_eq!(state.observe(MILESTONES, 260), [100, 250]);
        assert!(state.observe(MILESTONES, 240).is_empty());
        assert!(state.observe(MILESTONES, 255).is_empty());
    }

    #[test]
    fn fired_milestones_survive_storage_and_a_restarted_monitor() {
        let mut state = MilestoneState::default();
        state.observe(MILESTONES, 300);
        let json = serde_json::to_string(&state).unwrap();
        let mut restored: MilestoneState = serde_json::from_str(&json).unwrap();
        assert_eq!(restored.observe(MILESTONES, 600), [500]);
        assert_eq!(
            newly_crossed(MILESTONES, &restored.fired, 10_000),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn the_monitor_query_is_a_cheap_allowed_read() {
        let doc = Document::parse(MONITOR_QUERY).unwrap();
        let payload = monitor_payload("acme");
        doc.check_allowed(MONITOR_QUERY, &payload["variables"])
            .unwrap();
        assert_eq!(
            doc.estimated_cost(None, &payload["variables"]),
            MONITOR_QUERY_COST
        );
    }

    #[test]
    fn a_poll_record_is_read_from_the_graphql_response() {
        let body = json!({"data": {"post": {"id": "123", "votesCount": 412, "commentsCount": 37,
            "featuredAt": "2026-12-01T08:01:00Z"}}});
        let record = PollRecord::from_response("acme", &body, 1_796_112_600_000).unwrap();
        assert_eq!(
            record,
            PollRecord {
                launch: "acme".into(),
                post_id: Some("123".into()),
                votes: 412,
                comments: 37,
                featured_at_ms: Some(1_796_112_060_000),
                observed_at_ms: 1_796_112_600_000,
            }
        );
        assert_eq!(record.id(), "poll:acme:1796112600000");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["votes"], 412);
        assert_eq!(serde_json::from_value::<PollRecord>(json).unwrap(), record);
    }

    #[test]
    fn an_unfeatured_post_has_no_featured_time() {
        let body =
            json!({"data": {"post": {"votesCount": 3, "commentsCount": 0, "featuredAt": null}}});
        let record = PollRecord::from_response("acme", &body, 1).unwrap();
        assert_eq!((record.featured_at_ms, record.post_id), (None, None));
    }

    #[test]
    fn error_responses_and_missing_posts_are_reported_not_recorded() {
        let errors = json!({"errors": [{"message": "rate limited"}], "data": null});
        assert_eq!(
            PollRecord::from_response("acme", &errors, 1),
            Err(PollError::Api("rate limited".into()))
        );
        let missing = json!({"data": {"post": null}});
        assert_eq!(
            PollRecord::from_response("acme", &missing, 1),
            Err(PollError::NotFound)
        );
        let partial = json!({"data": {"post": {"votesCount": "many", "commentsCount": 1}}});
        assert_eq!(
            PollRecord::from_response("acme", &partial, 1),
            Err(PollError::Malformed("votesCount"))
        );
        assert_eq!(
            PollRecord::from_response("acme", &json!({}), 1),
            Err(PollError::Malformed("data"))
        );
    }
}
