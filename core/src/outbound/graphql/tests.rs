//! The mutation guard and the cost estimate.

use serde_json::json;

use super::*;

fn check(src: &str) -> Result<(), GraphqlError> {
    Document::parse(src)?.check_allowed(src, &Value::Null)
}

fn cost(src: &str, variables: Value) -> u64 {
    Document::parse(src)
        .unwrap()
        .estimated_cost(None, &variables)
}

const STATS_QUERY: &str =
    "query Monitor($slug: String!) { post(slug: $slug) { votesCount commentsCount featuredAt } }";

#[test]
fn a_read_only_query_may_mention_votes_and_comments() {
    assert_eq!(check(STATS_QUERY), Ok(()));
    assert_eq!(check("{ viewer { user { id } } }"), Ok(()));
}

#[test]
fn the_follow_mutations_are_allowed() {
    let follow = r#"mutation Follow($id: ID!) {
        userFollow(input: { id: $id }) { node { id isFollowing } errors { field message } }
    }"#;
    assert_eq!(check(follow), Ok(()));
    assert_eq!(
        check(r#"mutation { undo: userFollowUndo(input: {id: "1"}) { node { id } } }"#),
        Ok(())
    );
}

#[test]
fn vote_and_comment_mutations_are_forbidden_however_they_are_spelled() {
    for src in [
        "mutation { postVote(input: {postId: \"1\"}) { clientMutationId } }",
        "mutation { voteCreate(postId: 1) { id } }",
        "mutation { commentCreate(input: {body: \"great\"}) { id } }",
        "mutation Upvote { upvote(id: 1) }",
        // An alias that looks like a follow does not hide the real field.
        "mutation { userFollow: postVote(id: 1) { id } }",
        // A follow next to a vote in the same mutation.
        "mutation { userFollow(input: {id: \"1\"}) { node { id } } postVote(id: 1) { id } }",
        // The words anywhere in a document with a mutation, in any casing.
        "mutation { userFollow(input: {id: \"1\"}) { node { id } } } # then VOTE",
        "mutation { userFollow(input: {id: \"1\", note: \"Comment\"}) { node { id } } }",
        "query { post(slug: \"x\") { votesCount } } mutation { userFollow(input: {id: \"1\"}) { node { id } } }",
    ] {
        assert!(
            matches!(check(src), Err(GraphqlError::ForbiddenMutation(_))),
            "{src}: {:?}",
            check(src)
        );
    }
}

#[test]
fn any_other_mutation_is_forbidden_too() {
    for src in [
        "mutation { goalCreate(input: {title: \"x\"}) { node { id } } }",
        "mutation M { userFollow(input: {id: \"1\"}) { node { id } } userUpdate(x: 1) }",
        "mutation { ...Everything } fragment Everything on Mutation { userFollow(input: {id: \"1\"}) { node { id } } }",
        "mutation { ... on Mutation { userFollow(input: {id: \"1\"}) { node { id } } } }",
    ] {
        assert!(
            matches!(check(src), Err(GraphqlError::ForbiddenMutation(_))),
            "{src}"
        );
    }
}

#[test]
fn variables_that_mention_votes_refuse_a_mutation() {
    let src = "mutation F($input: UserFollowInput!) { userFollow(input: $input) { node { id } } }";
    let doc = Document::parse(src).unwrap();
    assert_eq!(
        doc.check_allowed(src, &json!({"input": {"id": "1"}})),
        Ok(())
    );
    assert!(doc
        .check_allowed(src, &json!({"input": {"id": "1", "x": "upvote"}}))
        .is_err());
}

#[test]
fn subscriptions_are_unsupported() {
    assert_eq!(
        check("subscription { postCreated { id } }"),
        Err(GraphqlError::Unsupported("subscription"))
    );
}

#[test]
fn documents_this_parser_does_not_understand_are_refused() {
    for src in [
        "",
        "   # only a comment",
        "Mutation { postVote }",
        "MUTATION { postVote }",
        "type Query { x: Int }",
        "query { post(slug: \"unterminated) { id } }",
        "query { post { id }",
        "query { post { id } } }",
        "query { a(first: ) }",
        "query { \u{feff}a }",
        "query { a }\u{0}",
        "mutation { userFollow(input: {id: \"1\"}) ",
    ] {
        assert!(
            matches!(Document::parse(src), Err(GraphqlError::Syntax(_))),
            "{src:?}: {:?}",
            Document::parse(src)
        );
    }
}

#[test]
fn strings_and_comments_cannot_smuggle_structure() {
    // A brace inside a string or a comment does not close the selection.
    let src = "query { post(slug: \"}\") { name } # }\n tagline: name }";
    assert_eq!(check(src), Ok(()));
    let block = "query { post(slug: \"\"\"multi\n}line \\\"\"\" ok\"\"\") { id } }";
    assert_eq!(check(block), Ok(()));
}

#[test]
fn deeply_nested_documents_are_refused_not_overflowed() {
    let src = format!("query {}{}", "{ a ".repeat(100), "}".repeat(100));
    assert!(matches!(
        Document::parse(&src),
        Err(GraphqlError::Syntax(_))
    ));
}

#[test]
fn operation_name_must_select_one_operation() {
    let doc = Document::parse("query A { a } query B { b }").unwrap();
    assert_eq!(doc.check_operation_name(Some("A")), Ok(()));
    assert_eq!(
        doc.check_operation_name(Some("C")),
        Err(GraphqlError::OperationName)
    );
    assert_eq!(
        doc.check_operation_name(None),
        Err(GraphqlError::OperationName)
    );
    let single = Document::parse("{ a }").unwrap();
    assert_eq!(single.check_operation_name(None), Ok(()));
}

#[test]
fn a_three_field_post_query_costs_four_points() {
    assert_eq!(cost(STATS_QUERY, json!({"slug": "acme"})), 4);
}

#[test]
fn connections_multiply_their_children_by_the_page_size() {
    // posts(first: 10): 1 + 10 × (edges: 1 + node: (1 + 2 fields)) = 1 + 10 × 4 = 41.
    let src = "{ posts(first: 10) { edges { node { id name } } } }";
    assert_eq!(cost(src, Value::Null), 41);
    let by_var = "query P($n: Int) { posts(first: $n) { edges { node { id name } } } }";
    assert_eq!(cost(by_var, json!({"n": 5})), 21);
    // Unknown page size: Product Hunt's default of 20.
    assert_eq!(cost(by_var, json!({})), 81);
    assert_eq!(cost("{ posts { edges { node { id } } } }", Value::Null), 61);
}

#[test]
fn fragments_are_expanded_into_the_estimate() {
    let src = "query { post(slug: \"x\") { ...F ... on Post { id } } } fragment F on Post { name tagline }";
    assert_eq!(cost(src, Value::Null), 4);
}

#[test]
fn the_named_operation_is_the_one_estimated() {
    let doc = Document::parse("query A { a } query B { b c d }").unwrap();
    assert_eq!(doc.estimated_cost(Some("A"), &Value::Null), 1);
    assert_eq!(doc.estimated_cost(None, &Value::Null), 3);
}
