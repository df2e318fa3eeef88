//! Hand-written inline SVG charts: no fonts, no scripts, no network. Each function returns
//! one `<svg>` element sized by its viewBox, so the page scales it.

use std::fmt::Write;

pub const PALETTE: &[&str] = &[
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escape text for HTML and SVG.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 640.0;
const H: f64 = 320.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 60.0;

fn open(out: &mut String, label: &str) {
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">"#,
        esc(label)
    );
}

fn axes(out: &mut String, y_max: f64, y_label: &str, percent: bool) {
    axes_between(out, 0.0, y_max, y_label, percent);
}

/// Horizontal grid lines and labels for a y axis from `y_min` to `y_max`.
fn axes_between(out: &mut String, y_min: f64, y_max: f64, y_label: &str, percent: bool) {
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let v = y_min + (y_max - y_min) * i as f64 / 4.0;
        let y = TOP + plot_h * (1.0 - i as f64 / 4.0);
        let text = if percent {
            format!("{:.0}%", 100.0 * v)
        } else {
            format!("{v:.2}")
        };
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{text}</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = write!(
        out,
        r#"<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>"#,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        esc(y_label)
    );
}

/// Grouped bars: one group per category, one bar per series (values in [0, y_max]).
pub fn grouped_bars(
    label: &str,
    categories: &[String],
    series: &[(&str, Vec<f64>)],
    percent: bool,
) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let y_max = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    axes(&mut out, y_max, "", percent);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let group_w = plot_w / categories.len().max(1) as f64;
    let bar_w = group_w * 0.8 / series.len().max(1) as f64;
    for (g, category) in categories.iter().enumerate() {
        let x0 = LEFT + g as f64 * group_w + group_w * 0.1;
        for (s, (name, values)) in series.iter().enumerate() {
            let v = values.get(g).copied().unwrap_or(0.0);
            let h = plot_h * v.max(0.0) / y_max;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                x0 + s as f64 * bar_w,
                TOP + plot_h - h,
                bar_w * 0.95,
                h,
                color(s),
                esc(name),
                if percent {
                    format!("{:.1}%", 100.0 * v)
                } else {
                    format!("{v:.3}")
                }
            );
        }
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + group_w * 0.4,
            H - BOTTOM + 16.0,
            esc(category)
        );
    }
    legend(&mut out, series.iter().map(|(n, _)| *n));
    out.push_str("</svg>");
    out
}

fn legend<'a>(out: &mut String, names: impl Iterator<Item = &'a str>) {
    for (i, name) in names.enumerate() {
        let x = LEFT + i as f64 * 150.0;
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}">{}</text>"#,
            H - 22.0,
            color(i),
            x + 14.0,
            H - 13.0,
            esc(name)
        );
    }
}

/// Lines over a shared x axis in [0, 1] (ROC, gains, calibration); `diagonal` draws y = x.
pub fn lines(
    label: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    diagonal: bool,
) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let ys = || series.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let y_max = ys().filter(|y| y.is_finite()).fold(1.0f64, f64::max);
    // Below zero only when a series goes there (a Qini curve can).
    let y_min = ys().filter(|y| y.is_finite()).fold(0.0f64, f64::min);
    axes_between(&mut out, y_min, y_max, y_label, false);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let at = |x: f64, y: f64| {
        (
            LEFT + plot_w * x.clamp(0.0, 1.0),
            TOP + plot_h * (1.0 - (y - y_min) / (y_max - y_min)),
        )
    };
    for i in 0..=4 {
        let x = i as f64 / 4.0;
        let (px, _) = at(x, 0.0);
        let _ = write!(
            out,
            r#"<text x="{px:.1}" y="{}" text-anchor="middle">{x:.2}</text>"#,
            H - BOTTOM + 14.0
        );
    }
    if diagonal {
        let (x0, y0) = at(0.0, 0.0);
        let (x1, y1) = at(1.0, 1.0_f64.min(y_max));
        let _ = write!(
            out,
            r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 3"/>"##
        );
    }
    for (i, (_, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|&(x, y)| {
                let (px, py) = at(x, y);
                format!("{px:.1},{py:.1}")
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            color(i),
            path.join(" ")
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        H - BOTTOM + 30.0,
        esc(x_label)
    );
    legend(&mut out, series.iter().map(|(n, _)| n.as_str()));
    out.push_str("</svg>");
    out
}

/// One bar per category with its 95% interval as a whisker (rates of two arms).
pub fn bars_with_intervals(
    label: &str,
    categories: &[String],
    values: &[(f64, [f64; 2])],
    percent: bool,
) -> String {
    let mut out = String::new();
    open(&mut out, label);
    let y_max = (values.iter())
        .flat_map(|(v, [_, hi])| [*v, *hi])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    axes(&mut out, y_max, "", percent);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let y_of = |v: f64| TOP + plot_h * (1.0 - v.clamp(0.0, y_max) / y_max);
    let slot = plot_w / categories.len().max(1) as f64;
    let show = |v: f64| match percent {
        true => format!("{:.1}%", 100.0 * v),
        false => format!("{v:.3}"),
    };
    for (i, (category, &(v, [lo, hi]))) in categories.iter().zip(values).enumerate() {
        let (x, w) = (LEFT + i as f64 * slot + slot * 0.25, slot * 0.5);
        let middle = x + w / 2.0;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"><title>{}: {} [{}, {}]</title></rect><line x1="{middle:.1}" y1="{:.1}" x2="{middle:.1}" y2="{:.1}" stroke="#222" stroke-width="1.5"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#222"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#222"/><text x="{middle:.1}" y="{}" text-anchor="middle">{}</text>"##,
            y_of(v),
            y_of(0.0) - y_of(v),
            color(i),
            esc(category),
            show(v),
            show(lo),
            show(hi),
            y_of(lo),
            y_of(hi),
            middle - 8.0,
            y_of(lo),
            middle + 8.0,
            y_of(lo),
            middle - 8.0,
            y_of(hi),
            middle + 8.0,
            y_of(hi),
            H - BOTTOM + 16.0,
            esc(category)
        );
    }
    out.push_str("</svg>");
    out
}

/// Points coloured by group, with group markers (the segment map).
pub fn scatter(
    label: &str,
    points: &[(f32, f32, u16)],
    markers: &[(f32, f32)],
    names: &[String],
) -> String {
    let mut out = String::new();
    let (w, h) = (W, 420.0);
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">"#,
        esc(label)
    );
    let xs = points
        .iter()
        .map(|p| p.0)
        .chain(markers.iter().map(|m| m.0));
    let ys = points
        .iter()
        .map(|p| p.1)
        .chain(markers.iter().map(|m| m.1));
    let (x_min, x_max) = xs.fold((f32::MAX, f32::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (y_min, y_max) = ys.fold((f32::MAX, f32::MIN), |(a, b), y| (a.min(y), b.max(y)));
    let sx = |x: f32| 20.0 + (w - 40.0) * f64::from((x - x_min) / (x_max - x_min).max(1e-6));
    let sy =
        |y: f32| 20.0 + (h - 70.0) * (1.0 - f64::from((y - y_min) / (y_max - y_min).max(1e-6)));
    for &(x, y, g) in points {
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="2.2" fill="{}" fill-opacity="0.55"/>"#,
            sx(x),
            sy(y),
            color(usize::from(g))
        );
    }
    for (i, &(x, y)) in markers.iter().enumerate() {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="7" fill="{}" stroke="#000" stroke-width="1.5"><title>{}</title></circle>"##,
            sx(x),
            sy(y),
            color(i),
            esc(names.get(i).map_or("", String::as_str))
        );
    }
    for (i, name) in names.iter().enumerate() {
        let (x, y) = (
            20.0 + (i % 3) as f64 * 205.0,
            h - 44.0 + (i / 3) as f64 * 13.0,
        );
        let short: String = name.chars().take(34).collect();
        let _ = write!(
            out,
            r#"<rect x="{x}" y="{}" width="9" height="9" fill="{}"/><text x="{}" y="{y}">{} {}</text>"#,
            y - 8.0,
            color(i),
            x + 13.0,
            i,
            esc(&short)
        );
    }
    out.push_str("</svg>");
    out
}

/// A grid of shaded cells: `counts[row][column]`, darker for more; each cell shows its
/// count and its `names` entry. Row 0 is drawn at the bottom (score 1 low, 5 high).
pub fn heat_grid(
    label: &str,
    (row_title, column_title): (&str, &str),
    counts: &[[usize; 5]; 5],
    names: &[[String; 5]; 5],
) -> String {
    let mut out = String::new();
    let (w, h, left, top, cell_w, cell_h) = (W, 380.0, 70.0, 10.0, 110.0, 64.0);
    let _ = write!(
        out,
        r#"<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">"#,
        esc(label)
    );
    let most = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    for (row, cells) in counts.iter().enumerate() {
        let y = top + (4 - row) as f64 * cell_h;
        for (column, &count) in cells.iter().enumerate() {
            let x = left + column as f64 * cell_w;
            let shade = 0.08 + 0.87 * count as f64 / most;
            let ink = if shade > 0.5 { "#fff" } else { "#222" };
            let name = &names[row][column];
            let _ = write!(
                out,
                r##"<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="#1f3b57" fill-opacity="{shade:.2}" stroke="#fff"><title>{} {} · {} {}: {count} customers, mostly {}</title></rect><text x="{}" y="{}" text-anchor="middle" fill="{ink}" font-size="13">{count}</text><text x="{}" y="{}" text-anchor="middle" fill="{ink}" font-size="9">{}</text>"##,
                esc(row_title),
                row + 1,
                esc(column_title),
                column + 1,
                esc(name),
                x + cell_w / 2.0,
                y + cell_h / 2.0 - 2.0,
                x + cell_w / 2.0,
                y + cell_h / 2.0 + 14.0,
                esc(name),
            );
        }
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + cell_h / 2.0 + 4.0,
            row + 1
        );
    }
    let bottom = top + 5.0 * cell_h;
    for column in 0..5 {
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            left + (column as f64 + 0.5) * cell_w,
            bottom + 16.0,
            column + 1
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">{}</text></svg>"#,
        left + 2.5 * cell_w,
        bottom + 36.0,
        esc(column_title),
        top + 2.5 * cell_h,
        top + 2.5 * cell_h,
        esc(row_title)
    );
    out
}
