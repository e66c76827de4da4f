//! Task validation: kinds, targets, forbidden mutations, keys, due times, the request.

use serde_json::json;

use super::*;
use crate::outbound::target::LOOPBACK_HTTP_FLAG;

const NOW_MS: u64 = 1_796_112_000_000; // 2026-12-01T08:00:00Z
const DISCORD: &str = "https://discord.com/api/webhooks/123/secret-token";
const FOLLOW: &str = "mutation { userFollow(input: {id: \"42\"}) { node { id } } }";

fn parse_with(body: Value, webhooks: &WebhookAllowlist) -> Result<TaskSpec, TaskError> {
    let ctx = TaskContext {
        now_ms: NOW_MS,
        launch_at: Some(
            DateTime::parse_from_rfc3339("2026-12-01T08:01:00Z")
                .unwrap()
                .into(),
        ),
        webhooks,
        default_max_attempts: 8,
    };
    TaskSpec::parse(body.to_string().as_bytes(), &ctx)
}

fn parse(body: Value) -> Result<TaskSpec, TaskError> {
    parse_with(body, &WebhookAllowlist::default())
}

fn code(body: Value) -> &'static str {
    parse(body).unwrap_err().code()
}

fn graphql(query: &str) -> Value {
    json!({"kind": "ph_graphql", "payload": {"query": query}, "due": "now", "idempotency_key": "k1"})
}

fn webhook(target: &str) -> Value {
    json!({"kind": "webhook_post", "target": target, "payload": {"content": "We are live!"},
           "due": "launch day 00:01 PT", "idempotency_key": "announce:launch-day.1"})
}

#[test]
fn a_webhook_announcement_is_accepted_with_its_due_time_resolved() {
    let task = parse(webhook(DISCORD)).unwrap();
    assert_eq!(task.kind, TaskKind::WebhookPost);
    assert_eq!(task.due_at_ms, NOW_MS + 60_000);
    assert_eq!((task.max_attempts, task.cost), (8, 1));
    assert_eq!(task.budget_key, "discord.com");
    assert_eq!(task.idempotency_key, "announce:launch-day.1");
}

#[test]
fn a_graphql_query_targets_the_endpoint_by_default_and_carries_its_estimated_cost() {
    let query = "query { post(slug: \"acme\") { votesCount commentsCount featuredAt } }";
    let task = parse(graphql(query)).unwrap();
    assert_eq!(task.target, "https://api.producthunt.com/v2/api/graphql");
    assert_eq!(task.budget_key, "api.producthunt.com/v2/api/graphql");
    assert_eq!((task.cost, task.due_at_ms), (4, NOW_MS));
    let mut explicit = graphql(query);
    explicit["cost"] = json!(50);
    assert_eq!(parse(explicit).unwrap().cost, 50);
}

#[test]
fn a_follow_mutation_is_accepted() {
    assert!(parse(graphql(FOLLOW)).is_ok());
}

#[test]
fn vote_comment_and_other_mutations_are_refused_as_forbidden_mutations() {
    for query in [
        "mutation { postVote(input: {postId: \"1\"}) { clientMutationId } }",
        "mutation { commentCreate(input: {body: \"nice\"}) { id } }",
        "mutation { goalCreate(input: {title: \"x\"}) { node { id } } }",
        "mutation { userFollow: postUpvote(id: 1) { id } }",
    ] {
        assert_eq!(code(graphql(query)), "forbidden_mutation", "{query}");
    }
    let err = parse(graphql("mutation { postVote(id: 1) }")).unwrap_err();
    assert_eq!(err.status(), 400);
    assert!(err.to_string().contains("userFollow"));
}

#[test]
fn graphql_payloads_are_exactly_query_variables_and_operation_name() {
    let persisted = json!({"kind": "ph_graphql", "due": "now", "idempotency_key": "k",
        "payload": {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab"}}}});
    assert_eq!(code(persisted), "invalid_field");
    let batch = json!({"kind": "ph_graphql", "due": "now", "idempotency_key": "k",
        "payload": [{"query": FOLLOW}]});
    assert_eq!(code(batch), "invalid_field");
    let mut bad_vars = graphql(FOLLOW);
    bad_vars["payload"]["variables"] = json!([1]);
    assert_eq!(code(bad_vars), "invalid_field");
    assert_eq!(code(graphql("Mutation { postVote }")), "invalid_graphql");
    assert_eq!(code(graphql("subscription { x }")), "unsupported_operation");
    let mut unknown_op = graphql("query A { a }");
    unknown_op["payload"]["operationName"] = json!("B");
    assert_eq!(code(unknown_op), "invalid_operation_name");
}

#[test]
fn ph_graphql_refuses_any_other_target() {
    let mut task = graphql("{ viewer { user { id } } }");
    task["target"] = json!("https://api.producthunt.com/v1/posts");
    assert_eq!(code(task.clone()), "invalid_target");
    task["target"] = json!(DISCORD);
    assert_eq!(code(task), "invalid_target");
}

#[test]
fn a_query_too_expensive_for_any_window_is_refused() {
    let query = "{ posts(first: 2000) { edges { node { id name tagline } } } }";
    let err = parse(graphql(query)).unwrap_err();
    assert_eq!(err.code(), "query_too_expensive");
    assert!(matches!(
        err,
        TaskError::TooExpensive {
            capacity: 5_625,
            ..
        }
    ));
}

#[test]
fn webhook_targets_must_be_allowlisted_https_and_never_product_hunt() {
    assert_eq!(
        code(webhook("https://attacker.example/hook")),
        "host_not_allowed"
    );
    assert_eq!(
        code(webhook("http://discord.com/api/webhooks/1/t")),
        "invalid_target"
    );
    assert_eq!(
        code(webhook("https://www.producthunt.com/posts/acme")),
        "forbidden_host"
    );
    assert_eq!(
        code(webhook("http://127.0.0.1:9000/hook")),
        "invalid_target"
    );
    let dev = WebhookAllowlist::parse(LOOPBACK_HTTP_FLAG).unwrap();
    let task = parse_with(webhook("http://127.0.0.1:9000/hook"), &dev).unwrap();
    assert_eq!(task.budget_key, "127.0.0.1");
    let mut no_target = webhook(DISCORD);
    no_target.as_object_mut().unwrap().remove("target");
    assert_eq!(
        parse(no_target).unwrap_err(),
        TaskError::MissingField("target")
    );
}

#[test]
fn there_is_no_task_kind_that_votes_or_comments() {
    for kind in ["vote", "upvote", "comment", "ph_vote", "PH_GRAPHQL", ""] {
        let mut task = graphql(FOLLOW);
        task["kind"] = json!(kind);
        assert_eq!(code(task), "unknown_kind", "{kind}");
    }
}

#[test]
fn idempotency_keys_are_required_and_restricted() {
    let mut task = webhook(DISCORD);
    task.as_object_mut().unwrap().remove("idempotency_key");
    assert_eq!(
        parse(task).unwrap_err(),
        TaskError::MissingField("idempotency_key")
    );
    for bad in ["", "has space", "slash/y", "ünicode", &"k".repeat(129)] {
        let mut task = webhook(DISCORD);
        task["idempotency_key"] = json!(bad);
        assert_eq!(code(task), "invalid_idempotency_key", "{bad}");
    }
    let mut ok = webhook(DISCORD);
    ok["idempotency_key"] = json!("A-z_0.9:".repeat(16));
    assert!(parse(ok).is_ok());
}

#[test]
fn bad_bodies_fields_and_due_times_get_specific_codes() {
    let ctx_list = WebhookAllowlist::default();
    let ctx = TaskContext {
        now_ms: NOW_MS,
        launch_at: None,
        webhooks: &ctx_list,
        default_max_attempts: 8,
    };
    assert_eq!(
        TaskSpec::parse(b"{not json", &ctx).unwrap_err().code(),
        "invalid_json"
    );
    assert_eq!(
        TaskSpec::parse(b"[]", &ctx).unwrap_err().code(),
        "invalid_json"
    );
    let huge = vec![b' '; MAX_TASK_BYTES + 1];
    let err = TaskSpec::parse(&huge, &ctx).unwrap_err();
    assert_eq!((err.code(), err.status()), ("payload_too_large", 413));
    // Without a launch time, launch-relative due times cannot be resolved.
    let body = webhook(DISCORD).to_string();
    assert_eq!(
        TaskSpec::parse(body.as_bytes(), &ctx).unwrap_err().code(),
        "due_needs_launch_time"
    );

    let mut typo = webhook(DISCORD);
    typo["due_at"] = json!("now");
    assert_eq!(
        parse(typo).unwrap_err(),
        TaskError::UnknownField("due_at".into())
    );
    let mut no_due = webhook(DISCORD);
    no_due.as_object_mut().unwrap().remove("due");
    assert_eq!(code(no_due), "missing_field");
    let mut bad_due = webhook(DISCORD);
    bad_due["due"] = json!("soonish");
    assert_eq!(code(bad_due), "due_unrecognized");
    for bad in [json!(0), json!(21), json!(-1), json!("3")] {
        let mut task = webhook(DISCORD);
        task["max_attempts"] = bad;
        assert_eq!(code(task), "invalid_field");
    }
    let mut text_payload = webhook(DISCORD);
    text_payload["payload"] = json!("hello");
    assert_eq!(code(text_payload), "invalid_field");
    let mut cost_on_webhook = webhook(DISCORD);
    cost_on_webhook["cost"] = json!(3);
    assert_eq!(code(cost_on_webhook), "invalid_field");
    let mut bad_launch = webhook(DISCORD);
    bad_launch["launch"] = json!("Not A Slug");
    assert_eq!(code(bad_launch), "invalid_field");
}

#[test]
fn each_attempt_sends_the_idempotency_key_as_both_headers() {
    let task = parse(webhook(DISCORD)).unwrap();
    let req = task.request(&Endpoints::default());
    assert_eq!((req.method, req.url.as_str()), ("POST", DISCORD));
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("idempotency-key"), Some("announce:launch-day.1"));
    assert_eq!(header("x-request-id"), Some("announce:launch-day.1"));
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(req.credential, Credential::None);
    assert_eq!(
        serde_json::from_str::<Value>(&req.body).unwrap(),
        json!({"content": "We are live!"})
    );
    assert_eq!(task.request(&Endpoints::default()), req);
}

#[test]
fn a_graphql_request_asks_for_the_token_and_may_go_to_a_local_fake_in_dev() {
    let task = parse(graphql(FOLLOW)).unwrap();
    let dev = WebhookAllowlist::parse(LOOPBACK_HTTP_FLAG).unwrap();
    let fake = Endpoints::new(Some("http://127.0.0.1:9100/v2/api/graphql"), &dev).unwrap();
    let req = task.request(&fake);
    assert_eq!(req.url, "http://127.0.0.1:9100/v2/api/graphql");
    assert_eq!(req.credential, Credential::ProductHuntToken);
    assert_eq!(req.budget_key, "api.producthunt.com/v2/api/graphql");
    assert_eq!(
        serde_json::from_str::<Value>(&req.body).unwrap(),
        json!({"query": FOLLOW})
    );
}

#[test]
fn debug_output_never_shows_a_webhooks_secret_path() {
    let task = parse(webhook(DISCORD)).unwrap();
    let debug = format!("{task:?} {:?}", task.request(&Endpoints::default()));
    assert!(!debug.contains("secret-token"), "{debug}");
    assert_eq!(task.redacted_target(), "https://discord.com/…");
}

#[test]
fn a_task_survives_a_json_round_trip_for_storage() {
    let task = parse(webhook(DISCORD)).unwrap();
    let back: TaskSpec = serde_json::from_str(&serde_json::to_string(&task).unwrap()).unwrap();
    assert_eq!(back, task);
}
