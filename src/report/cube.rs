//! The value cube as a heat map: one row per segment and tier, one column per value
//! quadrant; a cell's shade is its churn rate (or its share of customers when the bundle
//! has no label), its text the customers, value and churn rate.

use super::{esc, pct};
use crate::bundle::Bundle;
use crate::models::segment::CubeCell;
use crate::models::value::QUADRANTS;
use std::fmt::Write;

pub fn section(bundle: &Bundle) -> Option<String> {
    let s = &bundle.segments;
    if s.cube.is_empty() {
        return None;
    }
    // Quadrants in their usual order (protect, invest, maintain, let go), then any other.
    let mut quadrants: Vec<&str> = s.cube.iter().map(|c| c.quadrant.as_str()).collect();
    quadrants.sort_by_key(|q| {
        (
            QUADRANTS.iter().position(|n| n == q).unwrap_or(usize::MAX),
            *q,
        )
    });
    quadrants.dedup();
    let mut rows: Vec<(usize, &str)> = s
        .cube
        .iter()
        .map(|c| (c.segment, c.tier.as_str()))
        .collect();
    rows.dedup();
    let total: usize = s.cube.iter().map(|c| c.customers).sum();
    let by_churn = s.cube.iter().any(|c| c.churn_rate.is_some());
    let mut out = String::from(
        r#"<section id="cube"><h2>Value cube</h2><p class="muted">Training customers by segment, value tier and value quadrant. "#,
    );
    out.push_str(match by_churn {
        true => "Darker cells churn more.</p>",
        false => "Darker cells hold more customers.</p>",
    });
    out.push_str(r#"<table id="cube-table"><thead><tr><th>segment</th><th>tier</th>"#);
    for q in &quadrants {
        let label = if *q == "-" { "no quadrant" } else { q };
        let _ = write!(out, "<th>{}</th>", esc(label));
    }
    out.push_str("</tr></thead><tbody>");
    for (segment, tier) in rows {
        let name = s.profiles.get(segment).map_or("", |p| p.name.as_str());
        let _ = write!(
            out,
            r#"<tr><td title="{}">{segment}</td><td>{}</td>"#,
            esc(name),
            esc(tier)
        );
        for q in &quadrants {
            let cell = (s.cube.iter())
                .find(|c| c.segment == segment && c.tier == tier && c.quadrant == *q);
            out.push_str(&cell_html(cell, total, by_churn));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
    Some(out)
}

fn cell_html(cell: Option<&CubeCell>, total: usize, by_churn: bool) -> String {
    let Some(c) = cell else {
        return r#"<td class="num muted">·</td>"#.to_string();
    };
    let heat = match by_churn {
        true => c.churn_rate.unwrap_or(0.0),
        // Share of customers, stretched: a cell rarely holds more than a quarter of them.
        false => (4.0 * c.customers as f64 / total.max(1) as f64).min(1.0),
    };
    // White to deep red; text turns white on the darkest cells to stay readable.
    let light = (97.0 - 55.0 * heat.clamp(0.0, 1.0)).round();
    let ink = if light < 60.0 { "#fff" } else { "#222" };
    let churn = c
        .churn_rate
        .map_or(String::new(), |r| format!(" · churn {}", pct(r)));
    format!(
        r#"<td class="num" style="background:hsl(4,70%,{light}%);color:{ink}">{} · value {:.0}{}</td>"#,
        c.customers,
        c.value,
        esc(&churn)
    )
}
