//! The report's cross-sell section: how well the rules rank held-out products against
//! popularity, and the strongest rules.

use super::svg::{self, esc};
use super::{pct, table};
use crate::bundle::Bundle;
use std::fmt::Write;

/// Rules shown in the table (it sorts by any column).
const TOP_RULES: usize = 25;

pub fn section(bundle: &Bundle) -> Option<String> {
    let model = bundle.rules.as_ref()?;
    let mut out = String::from(r#"<section id="cross-sell"><h2>Cross-sell</h2>"#);
    let _ = write!(
        out,
        "<p>{} rules from {} frequent itemsets over {} products in {} baskets (min support {}, min confidence {}, min lift {}).</p>",
        model.rules.len(),
        model.itemsets,
        model.popular.len(),
        model.baskets,
        esc(&model.params.min_support.to_string()),
        model.params.min_confidence,
        model.params.min_lift
    );
    if let Some(m) = &bundle.manifest.metrics.cross_sell {
        let h = &m.hit_rate;
        let _ = write!(
            out,
            "<h3>Hit rate@{}</h3><p>One held product hidden per test basket ({} baskets); how often it is among the top {} offers.</p>",
            h.k, h.test_baskets, h.k
        );
        let series = vec![("hit rate", vec![h.rules, h.popularity])];
        out.push_str(&svg::grouped_bars(
            "hit rate of rules vs popularity",
            &["rules".to_string(), "popularity baseline".to_string()],
            &series,
            true,
        ));
    }
    let rows: Vec<Vec<String>> = model
        .rules
        .iter()
        .take(TOP_RULES)
        .map(|rule| {
            let m = model.metrics(rule);
            let antecedent: Vec<&str> = rule
                .antecedent
                .iter()
                .map(|&i| model.items[i as usize].as_str())
                .collect();
            vec![
                if antecedent.is_empty() {
                    "(anyone)".into()
                } else {
                    antecedent.join(" + ")
                },
                model.items[rule.consequent as usize].clone(),
                pct(m.support),
                format!("{:.3}", m.confidence),
                format!("{:.2}", m.lift),
            ]
        })
        .collect();
    out.push_str("<h3>Strongest rules</h3>");
    out.push_str(&table(
        "rules-table",
        &["if held", "offer", "support", "confidence", "lift"],
        &rows,
    ));
    out.push_str("</section>");
    Some(out)
}
