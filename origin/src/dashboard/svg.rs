//! A tiny server-side SVG chart renderer: line charts and bar charts as inline markup.
//!
//! The dashboard must work with no internet and no JavaScript, so charts are plain SVG
//! strings. Every piece of text that goes in is XML-escaped here; the output is safe to
//! embed in the template unescaped. Sizes are in a fixed viewBox and CSS scales the
//! element to its container, so one rendering fits a laptop and a phone.

use std::fmt::Write;

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub label: &'a str,
    pub color: &'a str,
    pub values: Vec<f64>,
}

/// Escapes text for XML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A compact axis label: 950, 1.2k, 3.4M.
pub fn compact(value: f64) -> String {
    let abs = value.abs();
    if abs >= 1e6 {
        format!("{:.1}M", value / 1e6)
    } else if abs >= 1e4 {
        format!("{:.0}k", value / 1e3)
    } else if abs >= 1e3 {
        format!("{:.1}k", value / 1e3)
    } else if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn open(out: &mut String, title: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{t}" preserveAspectRatio="xMidYMid meet"><title>{t}</title>"#,
        t = escape(title)
    );
}

/// The frame: baseline, top gridline, the y maximum and the two x labels.
fn axes(out: &mut String, max: f64, x_first: &str, x_last: &str) {
    let (base, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" y1="{base}" x2="{right}" y2="{base}" stroke="#999"/><line x1="{LEFT}" y1="{TOP}" x2="{right}" y2="{TOP}" stroke="#ddd" stroke-dasharray="4 4"/><text x="{lx}" y="{ty}" text-anchor="end" class="axis">{max}</text><text x="{lx}" y="{base}" text-anchor="end" class="axis">0</text><text x="{LEFT}" y="{xy}" class="axis">{first}</text><text x="{right}" y="{xy}" text-anchor="end" class="axis">{last}</text>"##,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
        max = escape(&compact(max)),
        xy = HEIGHT - 8.0,
        first = escape(x_first),
        last = escape(x_last),
    );
}

fn empty(out: &mut String, message: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" class="empty">{}</text></svg>"#,
        WIDTH / 2.0,
        HEIGHT / 2.0,
        escape(message)
    );
}

/// The largest value to scale to: at least 1, so an all-zero chart still has an axis.
fn scale_max(values: impl Iterator<Item = f64>) -> f64 {
    values.filter(|v| v.is_finite()).fold(1.0, f64::max)
}

/// Maps point `i` of `n` and `value` into the plot area.
fn position(i: usize, n: usize, value: f64, max: f64) -> (f64, f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = if n <= 1 {
        LEFT + plot_w / 2.0
    } else {
        LEFT + plot_w * i as f64 / (n - 1) as f64
    };
    let y = HEIGHT - BOTTOM - plot_h * (value.max(0.0) / max);
    (x, y)
}

/// A line chart of equally spaced points, one polyline per series, with a legend.
pub fn line_chart(title: &str, x_first: &str, x_last: &str, series: &[Series<'_>]) -> String {
    line_chart_marked(title, x_first, x_last, series, &[])
}

/// A line chart with vertical milestone markers at point indexes, each labelled.
pub fn line_chart_marked(
    title: &str,
    x_first: &str,
    x_last: &str,
    series: &[Series<'_>],
    markers: &[(usize, String)],
) -> String {
    let mut out = String::new();
    open(&mut out, title);
    let n = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
    if n == 0 {
        empty(&mut out, "No data yet");
        return out;
    }
    let max = scale_max(series.iter().flat_map(|s| s.values.iter().copied()));
    axes(&mut out, max, x_first, x_last);
    for (k, s) in series.iter().enumerate() {
        let points: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (x, y) = position(i, n, *v, max);
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline class="series" data-series="{l}" fill="none" stroke="{c}" stroke-width="2" points="{p}"/><text x="{x}" y="{y}" fill="{c}" class="legend">{l}</text>"#,
            l = escape(s.label),
            c = escape(s.color),
            p = points.join(" "),
            x = LEFT + 8.0 + 110.0 * k as f64,
            y = TOP + 14.0,
        );
    }
    for (k, (i, label)) in markers.iter().enumerate() {
        let (x, _) = position(*i, n, 0.0, max);
        let _ = write!(
            out,
            r##"<line class="milestone" x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{base}" stroke="#888" stroke-dasharray="3 3"/><text x="{tx:.1}" y="{ty}" class="axis milestone-label">{l}</text>"##,
            base = HEIGHT - BOTTOM,
            tx = x + 3.0,
            ty = TOP + 30.0 + 14.0 * (k % 4) as f64,
            l = escape(label),
        );
    }
    out.push_str("</svg>");
    out
}

/// A bar chart, one labelled bar per `(label, value)`.
pub fn bar_chart(title: &str, color: &str, bars: &[(String, f64)]) -> String {
    let mut out = String::new();
    open(&mut out, title);
    if bars.is_empty() {
        empty(&mut out, "No data yet");
        return out;
    }
    let max = scale_max(bars.iter().map(|(_, v)| *v));
    let first = bars.first().map_or("", |(l, _)| l.as_str());
    let last = bars.last().map_or("", |(l, _)| l.as_str());
    axes(&mut out, max, first, if bars.len() > 1 { last } else { "" });
    let slot = (WIDTH - LEFT - RIGHT) / bars.len() as f64;
    let base = HEIGHT - BOTTOM;
    for (i, (label, value)) in bars.iter().enumerate() {
        let (_, y) = position(0, 1, *value, max);
        let _ = write!(
            out,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{c}"><title>{l}: {v}</title></rect>"#,
            x = LEFT + slot * i as f64 + slot * 0.1,
            w = slot * 0.8,
            h = base - y,
            c = escape(color),
            l = escape(label),
            v = escape(&compact(*value)),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn polyline_points(svg: &str) -> Vec<(f64, f64)> {
        let start = svg.find("points=\"").unwrap() + 8;
        let end = start + svg[start..].find('"').unwrap();
        svg[start..end]
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn a_line_chart_spans_the_plot_and_puts_the_maximum_at_the_top() {
        let svg = line_chart(
            "Views",
            "08:00",
            "08:02",
            &[Series {
                label: "views",
                color: "#da552f",
                values: vec![0.0, 5.0, 10.0],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let points = polyline_points(&svg);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0], (LEFT, HEIGHT - BOTTOM));
        assert_eq!(points[2], (WIDTH - RIGHT, TOP));
        assert_eq!(points[1].1, (TOP + HEIGHT - BOTTOM) / 2.0);
        assert!(svg.contains(">10</text>"), "the y maximum is labelled");
    }

    #[test]
    fn an_empty_chart_says_so_instead_of_drawing_nothing() {
        let svg = line_chart("Votes", "", "", &[]);
        assert!(svg.contains("No data yet") && !svg.contains("polyline"));
        assert!(bar_chart("Uniques", "#000", &[]).contains("No data yet"));
    }

    #[test]
    fn text_is_escaped_so_labels_cannot_inject_markup() {
        let bars = [("<script>".to_owned(), 3.0), ("a&b".to_owned(), 1.0)];
        let svg = bar_chart("x\"y", "#123", &bars);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;") && svg.contains("a&amp;b"));
        assert!(svg.contains("x&quot;y"));
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn axis_labels_are_compact() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(1_240.0), "1.2k");
        assert_eq!(compact(45_000.0), "45k");
        assert_eq!(compact(3_400_000.0), "3.4M");
        assert_eq!(compact(2.5), "2.5");
    }
}
