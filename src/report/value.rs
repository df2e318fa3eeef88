//! Profit, not revenue: the pyramid by revenue and by contribution side by side, the
//! loss-makers and the whale curve (bundles trained with a cost model).

use super::{pct, svg, table};
use crate::bundle::Bundle;
use std::fmt::Write;

pub fn section(bundle: &Bundle) -> Option<String> {
    let pyramid = bundle.pyramid.as_ref()?;
    let s = &pyramid.profit.as_ref()?.summary;
    let mut out = String::from(r#"<section id="profit"><h2>Profit: revenue vs contribution</h2>"#);
    let _ = write!(
        out,
        "<p>Contribution = <code>{}</code> − cost to serve. {} of {} customers ({}) are loss-makers: together they lose {:.2}, {} of what the profitable customers earn. The top 20% of customers by contribution earn {} of total profit; the whale curve peaks at {} (top {} of customers).</p>",
        svg::esc(&pyramid.column),
        s.loss_makers,
        s.customers,
        pct(s.loss_maker_share()),
        s.losses,
        pct(s.losses_share_of_profit()),
        pct(s.top_20_share),
        pct(s.peak[1]),
        pct(s.peak[0]),
    );
    let rows: Vec<Vec<String>> = (s.revenue_tiers.iter().zip(&s.contribution_tiers))
        .map(|(r, c)| {
            vec![
                r.name.clone(),
                r.customers.to_string(),
                pct(r.value_share),
                c.customers.to_string(),
                pct(c.value_share),
            ]
        })
        .collect();
    out.push_str(&table(
        "profit-tiers",
        &[
            "tier",
            "customers by revenue",
            "revenue share",
            "customers by contribution",
            "profit share",
        ],
        &rows,
    ));
    let _ = write!(
        out,
        "<p>{} customers change tier when ranked by contribution.</p>",
        s.tier_changes
    );
    let curve = s.whale_curve.iter().map(|p| (p[0], p[1])).collect();
    out.push_str(&svg::lines(
        "whale curve: cumulative share of profit by share of customers",
        "share of customers, most profitable first",
        "cumulative share of profit",
        &[("cumulative profit".to_string(), curve)],
        false,
    ));
    out.push_str("</section>");
    Some(out)
}
