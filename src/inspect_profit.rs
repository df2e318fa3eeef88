//! The profit view of `inspect` and `train`: revenue against contribution, loss-makers
//! and the whale curve, when the bundle has a cost model.

use crate::models::contribution::{ProfitModel, ProfitSummary, ValueBasis};
use crate::models::segment::ValuePyramid;
use std::fmt::Write;

/// Nothing when the pyramid has no cost model.
pub fn profit_section(pyramid: &ValuePyramid) -> String {
    let Some(profit) = &pyramid.profit else {
        return String::new();
    };
    let ProfitModel { cost, summary: s } = profit.as_ref();
    let basis = match cost.basis() {
        ValueBasis::Revenue => "the pyramid above ranks revenue",
        ValueBasis::Contribution => "the pyramid above ranks contribution",
    };
    let mut out = format!(
        "\nprofit: contribution = {} − cost to serve ({basis}):\n",
        pyramid.column
    );
    let _ = writeln!(
        out,
        "  {} customers: revenue {:.2}, cost to serve {:.2}, contribution {:.2}",
        s.customers, s.revenue_total, s.cost_total, s.contribution_total
    );
    out.push_str(&loss_lines(s));
    let _ = writeln!(
        out,
        "  {:<10} {:>22}  {:>26}",
        "tier", "by revenue (value %)", "by contribution (profit %)"
    );
    for (r, c) in s.revenue_tiers.iter().zip(&s.contribution_tiers) {
        let _ = writeln!(
            out,
            "  {:<10} {:>12} ({:>6.1}%)  {:>16} ({:>6.1}%)",
            r.name,
            r.customers,
            100.0 * r.value_share,
            c.customers,
            100.0 * c.value_share
        );
    }
    let moves: Vec<String> = (s.moves.iter())
        .map(|(from, to, n)| format!("{from}→{to} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  customers changing tier: {} ({})",
        s.tier_changes,
        if moves.is_empty() {
            "none".to_string()
        } else {
            moves.join(", ")
        }
    );
    out
}

/// Loss-makers, the top 20%'s share of profit and the whale curve's peak.
fn loss_lines(s: &ProfitSummary) -> String {
    format!(
        "  loss-makers: {} customers ({:.1}%) lose {:.2} together ({:.1}% of what the profitable customers earn)\n  \
         top 20% of customers by contribution earn {:.1}% of total profit; whale curve peaks at {:.1}% (top {:.1}% of customers)\n",
        s.loss_makers,
        100.0 * s.loss_maker_share(),
        s.losses,
        100.0 * s.losses_share_of_profit(),
        100.0 * s.top_20_share,
        100.0 * s.peak[1],
        100.0 * s.peak[0],
    )
}
