//! The launch page, rendered from a [`LaunchSpec`] with MiniJinja.
//!
//! One engine for the built-in page (`origin/templates/launch.html`, embedded at compile
//! time) and for a team's own template (`template_html`, stored with the launch): both get
//! the same variables and the same partials (`launch_head.html`, `launch_badge.html`,
//! `launch_beacon.html`), so a team starts from a copy of the built-in page. Askama, which
//! the dashboard uses, compiles templates into the binary and so cannot take a template
//! that arrives with the data. Every value is HTML-escaped (see [`format_value`]) except
//! `description_html`, which [`super::markdown`] produced safe; an undefined variable is
//! an error (a typo in a team's template is refused when it is applied), and fuel bounds
//! a template that loops for ever.

use std::sync::OnceLock;

use minijinja::value::Serde;
use minijinja::{context, AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

use super::spec::{Image, LaunchSpec};
use super::values::Lang;

const BUILT_IN: &str = include_str!("../../templates/launch.html");
const PARTIALS: [(&str, &str); 3] = [
    (
        "launch_head.html",
        include_str!("../../templates/launch_head.html"),
    ),
    (
        "launch_badge.html",
        include_str!("../../templates/launch_badge.html"),
    ),
    (
        "launch_beacon.html",
        include_str!("../../templates/launch_beacon.html"),
    ),
];
/// Name of the page template in an environment (built-in or the team's).
const PAGE: &str = "page.html";
/// Instructions a render may run: the built-in page needs a few thousand.
const FUEL: u64 = 200_000;

#[derive(Debug, thiserror::Error)]
#[error("the page template failed: {0}")]
pub struct PageError(String);

fn environment(page: String) -> Result<Environment<'static>, PageError> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_formatter(format_value);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    for (name, source) in PARTIALS {
        env.add_template(name, source)
            .map_err(|e| PageError(e.to_string()))?;
    }
    env.add_template_owned(PAGE, page)
        .map_err(|e| PageError(describe(&e)))?;
    Ok(env)
}

/// Prints a value: `none` as nothing, safe strings as they are, everything else with
/// `& < > " '` escaped. (MiniJinja's own HTML escaping also escapes `/`, which is
/// harmless but turns every URL into `https:&#x2f;&#x2f;...`.)
fn format_value(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    if value.is_none() {
        return Ok(());
    }
    if value.is_safe() || *state.auto_escape() != AutoEscape::Html {
        return minijinja::escape_formatter(out, state, value);
    }
    let text = value.to_string();
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped)
        .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
}

fn built_in() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    // The built-in templates are tested: they always parse.
    ENV.get_or_init(|| environment(BUILT_IN.to_owned()).expect("built-in page template parses"))
}

/// A MiniJinja error with its line, for the team that wrote the template.
fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {}", e.detail().unwrap_or(&e.to_string())),
        None => e.to_string(),
    }
}

#[derive(Serialize)]
struct Cta {
    name: String,
    label: String,
    /// `/go/<slug>?to=<name>`: the worker's click route.
    href: String,
    primary: bool,
}

#[derive(Serialize)]
struct ImageView {
    url: String,
    width: u32,
    height: u32,
    alt: String,
}

impl From<&Image> for ImageView {
    fn from(i: &Image) -> Self {
        Self {
            url: i.url.to_string(),
            width: i.width,
            height: i.height,
            alt: i.alt.clone(),
        }
    }
}

/// The page's few words of its own (badge, footer), per language.
#[derive(Serialize)]
struct Text {
    locale: &'static str,
    find_us: &'static str,
    launching: &'static str,
}

fn text(lang: Lang) -> Text {
    match lang {
        Lang::En => Text {
            locale: "en_US",
            find_us: "Find us on",
            launching: "Launching on Product Hunt:",
        },
        Lang::Fr => Text {
            locale: "fr_FR",
            find_us: "Retrouvez-nous sur",
            launching: "Lancement sur Product Hunt :",
        },
        Lang::De => Text {
            locale: "de_DE",
            find_us: "Finde uns auf",
            launching: "Start auf Product Hunt:",
        },
    }
}

/// A rounded square in the accent colour with the name's initial, as a data URL (no
/// request for /favicon.ico).
fn favicon(name: &str, color: &str) -> String {
    use base64::Engine as _;
    let initial: String = name.chars().take(1).flat_map(char::to_uppercase).collect();
    let initial = initial
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 64 64\"><rect width=\"64\" height=\"64\" rx=\"14\" fill=\"{color}\"/><text x=\"32\" y=\"45\" font-family=\"system-ui,sans-serif\" font-size=\"38\" font-weight=\"700\" text-anchor=\"middle\" fill=\"#fff\">{initial}</text></svg>"
    );
    format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    )
}

/// The variables of a page in `requested` language (the page's own language when it has
/// no texts in that one).
fn variables(spec: &LaunchSpec, requested: Lang, page_base_url: Option<&str>) -> Value {
    let lang = if spec.languages().contains(&requested) {
        requested
    } else {
        spec.lang
    };
    let variant = spec.variants.get(&lang);
    let tagline = variant
        .and_then(|v| v.tagline.clone())
        .unwrap_or_else(|| spec.tagline.clone());
    let description = variant
        .and_then(|v| v.description.as_ref())
        .unwrap_or(&spec.description);
    let social_title = variant
        .and_then(|v| v.social_title.clone())
        .unwrap_or_else(|| spec.social.title.clone());
    let social_description = variant
        .and_then(|v| v.social_description.clone())
        .unwrap_or_else(|| spec.social.description.clone());
    let ctas: Vec<Cta> = spec
        .ctas
        .iter()
        .enumerate()
        .map(|(i, c)| Cta {
            name: c.name.to_string(),
            label: variant
                .and_then(|v| v.cta_labels.get(c.name.as_str()).cloned())
                .unwrap_or_else(|| c.label.clone()),
            href: format!("/go/{}?to={}", spec.slug.as_str(), c.name),
            primary: i == 0,
        })
        .collect();
    let canonical_url = spec
        .canonical_url
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| {
            page_base_url
                .map(|b| format!("{}/launch/{}", b.trim_end_matches('/'), spec.slug.as_str()))
        });
    let title = if tagline.is_empty() {
        spec.name.clone()
    } else {
        format!("{} — {tagline}", spec.name)
    };
    let pacific = spec.launch_at.pacific();
    context! {
        lang => lang.as_str(),
        slug => spec.slug.as_str(),
        name => spec.name.as_str(),
        title,
        tagline,
        description_html => Value::from_safe_string(description.to_html()),
        theme_color => spec.theme_color.as_str(),
        canonical_url,
        favicon => favicon(&spec.name, spec.theme_color.as_str()),
        ctas => Value::from(Serde(&ctas)),
        hero => Value::from(Serde(spec.hero.as_ref().map(ImageView::from))),
        social => context! {
            title => social_title,
            description => social_description,
            image => Value::from(Serde(spec.social.image.as_ref().map(ImageView::from))),
            twitter_card => spec.social.twitter_card.as_str(),
            twitter_site => spec.social.twitter_site.as_ref().map(ToString::to_string),
        },
        product_hunt => context! {
            url => spec.post_slug.url(),
            post_slug => spec.post_slug.as_str(),
        },
        launch_at => context! {
            iso => spec.launch_at.to_string(),
            pacific => pacific.format("%Y-%m-%d %H:%M %Z").to_string(),
        },
        // The page's own few words follow the visitor's language even where the team's
        // texts fall back to the page's language; `lang` and og:locale say what the
        // team's texts are in.
        locale => text(lang).locale,
        text => Value::from(Serde(text(requested))),
    }
}

/// The page HTML for `lang`.
pub fn render(
    spec: &LaunchSpec,
    lang: Lang,
    page_base_url: Option<&str>,
) -> Result<String, PageError> {
    let vars = variables(spec, lang, page_base_url);
    let render = |env: &Environment<'_>| {
        env.get_template(PAGE)
            .and_then(|t| t.render(&vars))
            .map_err(|e| PageError(describe(&e)))
    };
    match &spec.template_html {
        None => render(built_in()),
        Some(source) => render(&environment(source.clone())?),
    }
}

/// Renders a team's template in every language the launch has, so a broken one is
/// refused when it is applied rather than when a visitor arrives.
pub fn check_template(spec: &LaunchSpec) -> Result<(), String> {
    if spec.template_html.is_none() {
        return Ok(());
    }
    for lang in spec.languages() {
        render(spec, lang, Some("https://launch.example"))
            .map_err(|e| format!("{} ({} page)", e.0, lang.as_str()))?;
    }
    Ok(())
}
