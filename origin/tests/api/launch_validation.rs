//! Launch files with problems: each invalid field gets its own error (the field's path and
//! what is allowed), all problems at once, and nothing is written.

use crate::helpers::{spawn_app, spawn_app_with};
use crate::launch_helpers::{example_text, launch_cli, write_file};

/// A valid launch file changed by `edit`, as TOML.
fn demo_with(edit: impl FnOnce(&mut toml::Table)) -> String {
    let mut table: toml::Table = example_text("demo-launch.toml").parse().unwrap();
    edit(&mut table);
    toml::to_string(&table).unwrap()
}

fn set(table: &mut toml::Table, path: &str, value: toml::Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut at = table;
    for part in parts {
        at = at
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap();
    }
    at.insert(last.into(), value);
}

#[tokio::test]
async fn each_invalid_field_is_refused_with_its_own_error_and_nothing_is_written() {
    let app = spawn_app().await;
    let s = |v: &str| toml::Value::String(v.into());
    let cases: Vec<(&str, toml::Value, &str, &str)> = vec![
        ("name", s(""), "name", "must not be empty"),
        ("lang", s("es"), "lang", "en, fr or de"),
        ("theme_color", s("orange"), "theme_color", "#rgb or #rrggbb"),
        (
            "canonical_url",
            s("http://x.example/"),
            "canonical_url",
            "only https://",
        ),
        (
            "description",
            s("[x](javascript:alert(1))"),
            "description",
            "javascript:alert(1)",
        ),
        (
            "description",
            s("![c](https://example.com/c.png)"),
            "description",
            "images are not allowed",
        ),
        (
            "product_hunt.launch_at",
            s("tomorrow"),
            "product_hunt.launch_at",
            "is not a time",
        ),
        (
            "product_hunt.launch_at",
            s("2026-03-08T02:30:00"),
            "product_hunt.launch_at",
            "does not exist in Pacific time",
        ),
        (
            "product_hunt.launch_at",
            s("2026-11-01T01:30:00"),
            "product_hunt.launch_at",
            "happens twice",
        ),
        (
            "product_hunt.post_slug",
            s("Demo Launch"),
            "product_hunt.post_slug",
            "a-z, 0-9 and hyphens",
        ),
        (
            "business.currency",
            s("usd"),
            "business.currency",
            "ISO 4217",
        ),
        (
            "business.currency",
            s("XXY"),
            "business.currency",
            "ISO 4217",
        ),
        (
            "business.expected_ltv",
            toml::Value::Integer(-1),
            "business.expected_ltv",
            "from 0 to",
        ),
        (
            "business.revenue_window_days",
            toml::Value::Integer(30),
            "business.revenue_window_days",
            "not both",
        ),
        (
            "business.spend.Paid Ads",
            toml::Value::Integer(5),
            "business.spend.Paid Ads",
            "channel name",
        ),
        (
            "cta_hosts",
            toml::Value::Array(vec![s("https://example.com")]),
            "cta_hosts[0]",
            "not a host name",
        ),
        (
            "beacon_origins",
            toml::Value::Array(vec![s("https://app.example.com/path")]),
            "beacon_origins[0]",
            "scheme and host only",
        ),
        (
            "social.twitter_card",
            s("large"),
            "social.twitter_card",
            "summary_large_image",
        ),
        (
            "social.twitter_site",
            s("acme"),
            "social.twitter_site",
            "@acme",
        ),
        (
            "variants.it.tagline",
            s("Ciao"),
            "variants.it",
            "en, fr or de",
        ),
        (
            "variants.en.tagline",
            s("Hi"),
            "variants.en",
            "the page's own language",
        ),
        (
            "variants.fr.cta_labels.buy",
            s("Acheter"),
            "variants.fr.cta_labels.buy",
            "no [[cta]] has this name",
        ),
        (
            "hero",
            toml::Value::Table(
                "url = 'https://example.com/h.png'\nheight = 900\nalt = 'x'"
                    .parse()
                    .unwrap(),
            ),
            "hero.width",
            "so the page does not shift",
        ),
        (
            "template",
            s("page.html"),
            "template",
            "read by `launch apply FILE`",
        ),
        (
            "template_html",
            s("{{ nme }}"),
            "template_html",
            "undefined",
        ),
    ];
    for (path, value, field, problem) in cases {
        let body = demo_with(|t| set(t, path, value.clone()));
        let (status, answer) = app.put_launch("demo-launch", &body).await;
        assert_eq!(status, 422, "{path} = {value}: {answer}");
        assert_eq!(answer["error"], "invalid_launch");
        let fields = answer["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "{path} = {value}: {answer}");
        assert_eq!(fields[0]["field"], field, "{path} = {value}: {answer}");
        let said = fields[0]["problem"].as_str().unwrap();
        assert!(said.contains(problem), "{path} = {value}: {said}");
        assert_eq!(app.launch_count().await, 0, "{path}: nothing written");
    }
}

#[tokio::test]
async fn a_file_with_many_problems_reports_all_of_them_at_once() {
    let app = spawn_app().await;
    let body = demo_with(|t| {
        t.insert("slug".into(), toml::Value::String("Demo Launch".into()));
        t.remove("product_hunt");
        t.remove("cta");
        set(
            t,
            "business.currency",
            toml::Value::String("dollars".into()),
        );
    });
    let (status, answer) = app
        .put_launch_at("/admin/launches/demo-launch", &body)
        .await;
    assert_eq!(status, 422, "{answer}");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["slug", "slug", "product_hunt", "cta", "business.currency"]
    );
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn an_unknown_field_or_bad_toml_is_a_malformed_file_with_the_line() {
    let app = spawn_app().await;
    let body = example_text("demo-launch.toml").replace("tagline = ", "tag_line = ");
    let (status, answer) = app.put_launch("demo-launch", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"], "malformed_launch_file");
    let problem = answer["problem"].as_str().unwrap();
    assert!(problem.contains("unknown field `tag_line`"), "{problem}");
    assert!(problem.contains("line 5"), "{problem}");
    let (status, _) = app.put_launch("demo-launch", "slug = ").await;
    assert_eq!(status, 400);
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn the_cli_prints_every_problem_and_exits_non_zero_without_writing() {
    let (app, database) = spawn_app_with(|_| {}).await;
    let body = demo_with(|t| {
        t.insert("name".into(), toml::Value::String(" ".into()));
        set(
            t,
            "cta_hosts",
            toml::Value::Array(vec![toml::Value::String("other.example".into())]),
        );
    });
    let (_dir, path) = write_file(&body);
    let output = launch_cli(&database, &["apply", &path]);
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("the launch file has 3 problem(s); nothing was written"),
        "{err}"
    );
    assert!(err.contains("  name: must not be empty"), "{err}");
    assert!(
        err.contains("  cta[0].url: host example.com is not in cta_hosts (other.example)"),
        "{err}"
    );
    assert!(err.contains("  cta[1].url: host example.com"), "{err}");
    assert_eq!(app.launch_count().await, 0);
}
