//! The description's Markdown: CommonMark (pulldown-cmark) with three rules.
//!
//! - Raw HTML is text: an HTML block or inline tag becomes a text event, which the HTML
//!   writer escapes, so a description can never inject markup or script.
//! - Links go only to `https:`, `http:`, `mailto:`, a path on the page's site (`/...`) or a
//!   fragment (`#...`): [`check`] refuses anything else (`javascript:`, `data:`...), and
//!   [`to_html`] renders such a link as its text, whatever was stored.
//! - No images: they would load without a known size and shift the layout (the `hero`
//!   image has one). [`check`] refuses them; [`to_html`] keeps only their alt text.
//!
//! Headings move one level down (`#` becomes `<h2>`): the page's own `<h1>` is the name.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

fn options() -> Options {
    Options::ENABLE_STRIKETHROUGH
}

fn link_allowed(dest: &str) -> bool {
    let lower = dest.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:"]
        .iter()
        .any(|p| lower.starts_with(p))
        || (lower.starts_with('/') && !lower.starts_with("//"))
        || lower.starts_with('#')
}

/// Refuses images and links the page would not render, naming the first.
pub fn check(source: &str) -> Result<(), String> {
    for event in Parser::new_ext(source, options()) {
        match event {
            Event::Start(Tag::Image { dest_url, .. }) => {
                return Err(format!(
                    "images are not allowed in the description ({dest_url}): they load without a size and shift the page; use [hero]"
                ));
            }
            Event::Start(Tag::Link { dest_url, .. }) if !link_allowed(&dest_url) => {
                return Err(format!(
                    "link to {:?} is not allowed: links may be https://, http://, mailto:, /path or #fragment",
                    &*dest_url
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

fn lower(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// The description as HTML, safe to insert unescaped.
pub fn to_html(source: &str) -> String {
    // Which open links were dropped, innermost last (their end tags are dropped too).
    let mut links: Vec<bool> = Vec::new();
    let events = Parser::new_ext(source, options()).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::Link { ref dest_url, .. }) => {
            let keep = link_allowed(dest_url);
            links.push(keep);
            keep.then_some(event)
        }
        Event::End(TagEnd::Link) => links.pop().unwrap_or(false).then_some(event),
        Event::Start(Tag::Heading {
            level,
            id,
            classes,
            attrs,
        }) => Some(Event::Start(Tag::Heading {
            level: lower(level),
            id,
            classes,
            attrs,
        })),
        Event::End(TagEnd::Heading(level)) => Some(Event::End(TagEnd::Heading(lower(level)))),
        other => Some(other),
    });
    let mut html = String::with_capacity(source.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_in_a_description_is_shown_as_text_never_as_markup() {
        let html = to_html("Hi <script>alert(1)</script>\n\n<div onclick=\"x()\">block</div>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<div"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn markdown_formatting_becomes_html_with_headings_one_level_down() {
        let html = to_html("# Why\n\n**Fast** and [open](https://acme.dev).\n\n- one\n- two\n");
        assert!(html.contains("<h2>Why</h2>"), "{html}");
        assert!(html.contains("<strong>Fast</strong>"), "{html}");
        assert!(
            html.contains("<a href=\"https://acme.dev\">open</a>"),
            "{html}"
        );
        assert!(html.contains("<li>two</li>"), "{html}");
    }

    #[test]
    fn a_javascript_link_is_refused_and_rendered_as_plain_text() {
        let source = "[click](javascript:alert(1)) and [ok](/pricing)";
        assert!(check(source).unwrap_err().contains("javascript:alert(1)"));
        let html = to_html(source);
        assert!(!html.contains("javascript"), "{html}");
        assert!(html.contains("click"), "{html}");
        assert!(html.contains("<a href=\"/pricing\">ok</a>"), "{html}");
    }

    #[test]
    fn an_image_is_refused_and_rendered_as_its_alt_text() {
        let source = "![a chart](https://acme.dev/chart.png)";
        assert!(check(source)
            .unwrap_err()
            .contains("images are not allowed"));
        let html = to_html(source);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("a chart"), "{html}");
    }
}
