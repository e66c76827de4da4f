use crate::helpers::{metric, server_settings, spawn_app, spawn_app_with_server};
use crate::launch_helpers::{example_text, launch_cli, stdout};

#[tokio::test]
async fn a_signed_render_of_a_known_launch_returns_its_page() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket <Ship>").await;

    let response = app.signed("GET", "/render/rocket", b"").await;

    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Rocket &#60;Ship&#62;") || html.contains("Rocket &lt;Ship&gt;"),
        "name is escaped: {html}"
    );
    assert!(
        html.contains("href=\"/go/rocket?to=signup\""),
        "CTA links go through the worker's click route"
    );
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 1);
}

#[tokio::test]
async fn a_render_of_an_unknown_launch_is_a_small_404_page() {
    let app = spawn_app().await;
    let response = app.signed("GET", "/render/nobody-here", b"").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("nobody-here"));
}

#[tokio::test]
async fn the_language_variant_sets_the_page_language_and_its_texts() {
    let app = spawn_app().await;
    app.put_launch("acme-notes", &example_text("acme-notes.toml"))
        .await;
    let (status, html) = app.render_page("/render/acme-notes?lang=fr").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"fr\">"), "{html}");
    assert!(html.contains("<p class=\"tagline\">Des notes qui se relient toutes seules</p>"));
    assert!(
        html.contains(">Commencer gratuitement</a>"),
        "the variant's button label"
    );
    assert!(html.contains("<meta property=\"og:locale\" content=\"fr_FR\">"));
}

#[tokio::test]
async fn a_language_without_texts_gets_the_page_in_its_own_language() {
    let app = spawn_app().await;
    app.put_launch("demo-launch", &example_text("demo-launch.toml"))
        .await;
    let (status, html) = app.render_page("/render/demo-launch?lang=de").await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<meta property=\"og:locale\" content=\"en_US\">"));
    assert!(
        html.contains("Start auf Product Hunt:"),
        "the page's own words follow the visitor's language"
    );
}

#[tokio::test]
async fn the_page_carries_its_title_social_tags_canonical_url_favicon_and_badge() {
    let mut server = server_settings();
    server.launches.page_base_url = Some("https://launch.acme-notes.example/".into());
    let app = spawn_app_with_server(server).await;
    app.put_launch("acme-notes", &example_text("acme-notes.toml"))
        .await;
    let (_, html) = app.render_page("/render/acme-notes").await;
    for tag in [
        "<title>Acme Notes — Notes that link themselves</title>",
        "<link rel=\"canonical\" href=\"https://launch.acme-notes.example/launch/acme-notes\">",
        "<meta property=\"og:title\" content=\"Acme Notes — notes that link themselves\">",
        "<meta property=\"og:image\" content=\"https://acme-notes.example/img/og-1200x630.png\">",
        "<meta property=\"og:image:width\" content=\"1200\">",
        "<meta name=\"twitter:card\" content=\"summary_large_image\">",
        "<meta name=\"twitter:site\" content=\"@acmenotes\">",
        "<link rel=\"icon\" href=\"data:image/svg+xml;base64,",
        "<main data-launch=\"acme-notes\">",
        "<a class=\"cta primary\" href=\"/go/acme-notes?to=signup\">Start free</a>",
        "<a class=\"cta\" href=\"/go/acme-notes?to=download\">Download for Mac &amp; Windows</a>",
        "<img class=\"hero\" src=\"https://acme-notes.example/img/hero-1600x900.png\" width=\"1600\" height=\"900\"",
        "<a class=\"ph\" href=\"https://www.producthunt.com/posts/acme-notes\"",
        "<svg width=\"220\" height=\"48\"",
        "<time datetime=\"2026-12-10T00:01:00-08:00\">2026-12-10 00:01 PST</time>",
        "<li><strong>Offline first</strong>:",
    ] {
        assert!(html.contains(tag), "missing {tag}");
    }
    assert!(!html.contains("<script src"), "no external script");
    assert!(
        !html.contains("<link rel=\"stylesheet\""),
        "no external style or font"
    );
    assert_eq!(
        html.matches("<img ").count(),
        1,
        "the hero only, with its size"
    );
}

#[tokio::test]
async fn markup_in_any_text_of_the_file_is_escaped_on_the_page() {
    let app = spawn_app().await;
    let file = example_text("demo-launch.toml")
        .replace(
            "tagline = \"The fastest way to ship your Product Hunt launch\"",
            "tagline = \"<img src=x onerror=alert(1)>\"",
        )
        .replace(
            "launch-edge serves this page",
            "<script>alert(1)</script> <b onclick=\"x()\">launch-edge</b> serves this page",
        )
        .replace(
            "label = \"Pricing\"",
            "label = '\"><script>alert(2)</script>'",
        );
    let (status, answer) = app.put_launch("demo-launch", &file).await;
    assert_eq!(status, 201, "{answer}");
    let (_, html) = app.render_page("/render/demo-launch").await;
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(!html.contains("<b onclick"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(html.contains("&quot;&gt;&lt;script&gt;alert(2)"), "{html}");
}

const OWN_TEMPLATE: &str = r#"<!doctype html><html lang="{{ lang }}"><head>{% include "launch_head.html" %}</head>
<body><main data-launch="{{ slug }}"><h1 class="mine">{{ name }}</h1>{{ description_html }}
{% for cta in ctas %}<a href="{{ cta.href }}">{{ cta.label }}</a>{% endfor %}</main>
{% include "launch_beacon.html" %}</body></html>"#;

#[tokio::test]
async fn a_teams_own_template_renders_with_the_same_variables_and_escaping() {
    let app = spawn_app().await;
    let file = example_text("demo-launch.toml")
        .replace("name = \"Demo Launch\"", "name = \"Demo <Launch>\"")
        .replacen(
            "slug = ",
            &format!("template_html = '''{OWN_TEMPLATE}'''\nslug = "),
            1,
        );
    let (status, answer) = app.put_launch("demo-launch", &file).await;
    assert_eq!(status, 201, "{answer}");
    let (_, html) = app.render_page("/render/demo-launch").await;
    assert!(
        html.contains("<h1 class=\"mine\">Demo &lt;Launch&gt;</h1>"),
        "{html}"
    );
    assert!(
        html.contains("<strong>memory, Cache API, KV</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"/go/demo-launch?to=signup\">Sign up free</a>"),
        "{html}"
    );
    assert!(html.contains("<meta property=\"og:title\""), "{html}");
    assert!(html.contains("launchEdge"), "the beacon partial: {html}");
}

#[tokio::test]
async fn a_template_path_in_the_file_is_read_by_launch_apply_relative_to_the_file() {
    let (app, database) = crate::helpers::spawn_app_with(|_| {}).await;
    let dir = crate::launch_helpers::tempdir::Dir::new();
    std::fs::write(dir.path.join("page.html"), OWN_TEMPLATE).unwrap();
    let file = example_text("demo-launch.toml").replacen(
        "slug = ",
        "template = \"page.html\"\nslug = ",
        1,
    );
    std::fs::write(dir.path.join("launch.toml"), file).unwrap();
    let path = dir.path.join("launch.toml");
    let output = launch_cli(&database, &["apply", path.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("  template_html: (unset) → <template, "));
    let (_, html) = app.render_page("/render/demo-launch").await;
    assert!(
        html.contains("<h1 class=\"mine\">Demo Launch</h1>"),
        "{html}"
    );
}

#[tokio::test]
async fn a_broken_template_is_refused_when_applied_with_its_line() {
    let app = spawn_app().await;
    let file = example_text("demo-launch.toml").replacen(
        "slug = ",
        "template_html = '''<p>\n{% for x in ctas %}{{ x.label }}'''\nslug = ",
        1,
    );
    let (status, answer) = app.put_launch("demo-launch", &file).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["fields"][0]["field"], "template_html");
    let problem = answer["fields"][0]["problem"].as_str().unwrap();
    assert!(problem.contains("line 2"), "{problem}");
    assert_eq!(app.launch_count().await, 0);
}

#[tokio::test]
async fn an_unsigned_render_is_refused_with_a_reason() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let response = app.get("/render/rocket").await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "missing_timestamp");
    assert_eq!(metric(&app, "launch_edge_origin_renders_total").await, 0);
    assert_eq!(
        metric(&app, "launch_edge_origin_signature_rejections_total").await,
        1
    );
}

#[tokio::test]
async fn a_render_signed_with_the_wrong_key_is_refused() {
    let mut app = spawn_app().await;
    app.secret = launch_edge_proto::Secret::new("not-the-shared-secret");
    let response = app.signed("GET", "/render/rocket", b"").await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "signature_mismatch");
}

#[tokio::test]
async fn a_render_signed_for_another_path_is_refused() {
    let app = spawn_app().await;
    let timestamp = chrono::Utc::now().timestamp();
    let signature = launch_edge_proto::signing::SignedRequest {
        method: "GET",
        path_and_query: "/render/other",
        body: b"",
    }
    .sign(&app.secret, timestamp);
    let response = app
        .client
        .get(format!("{}/render/rocket", app.address))
        .header(launch_edge_proto::headers::TIMESTAMP, timestamp.to_string())
        .header(launch_edge_proto::headers::SIGNATURE, signature)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_stale_signature_is_refused_even_when_otherwise_valid() {
    let app = spawn_app().await;
    app.seed_launch("rocket", "Rocket").await;
    let old = chrono::Utc::now().timestamp() - launch_edge_proto::signing::TOLERANCE_SECS - 5;
    let response = app.signed_at("GET", "/render/rocket", b"", old).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "timestamp_outside_tolerance");
    let future = chrono::Utc::now().timestamp() + launch_edge_proto::signing::TOLERANCE_SECS + 5;
    assert_eq!(
        app.signed_at("GET", "/render/rocket", b"", future)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_malformed_slug_is_a_bad_request() {
    let app = spawn_app().await;
    let response = app.signed("GET", "/render/Bad_Slug", b"").await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn health_is_public_and_readiness_checks_postgres() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}
