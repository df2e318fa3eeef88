//! RFM cells and lifecycle status for customers known from an order log: the
//! vocabulary marketers use ("champions", "at risk") next to the models' answers.
//!
//! Recency, frequency and monetary are each scored 1–5 against quintile edges of the
//! training customers (5 = most recent / most orders / most spent); the three digits
//! form the cell ("545") and the R and FM scores pick a named group.

use crate::data::Table;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The order-log columns the RFM answers read, in this order.
pub const RFM_INPUTS: [&str; 5] = [
    "recency_days",
    "frequency",
    "monetary",
    "interpurchase_days",
    "days_since_first",
];

/// Quintile edges and rhythm figures fitted on the training customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RfmModel {
    /// The 20th, 40th, 60th and 80th percentiles of each measure.
    pub recency_edges: [f64; 4],
    pub frequency_edges: [f64; 4],
    pub monetary_edges: [f64; 4],
    /// Median of the repeat customers' mean gaps between orders (days): the rhythm
    /// assumed for customers with one order.
    pub median_gap_days: f64,
    /// Days without an order after which the log counts a customer as churned.
    pub churn_after_days: f64,
    /// Training customers per named group.
    #[serde(default)]
    pub group_counts: BTreeMap<String, usize>,
    /// Training customers per recency × frequency score, `[r − 1][f − 1]` (the report's
    /// grid; zeros in bundles from before it).
    #[serde(default)]
    pub rf_counts: [[usize; 5]; 5],
    /// Training customers per lifecycle status.
    #[serde(default)]
    pub lifecycle_counts: BTreeMap<String, usize>,
    /// The most common named group in each recency × frequency cell ("" when empty):
    /// groups are drawn on R × FM, so a cell's customers can fall in more than one.
    #[serde(default)]
    pub rf_groups: [[String; 5]; 5],
}

/// Lifecycle statuses from the freshest to the furthest gone.
pub const LIFECYCLE: [&str; 5] = ["new", "active", "at risk", "lapsed", "lost"];

/// One customer's RFM answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RfmAnswer {
    pub r: u8,
    pub f: u8,
    pub m: u8,
    /// The three scores as digits, e.g. "545".
    pub cell: String,
    /// Named group from [`GROUP_MAP`].
    pub group: &'static str,
    /// new / active / at risk / lapsed / lost, see [`lifecycle`].
    pub lifecycle: &'static str,
}

/// One customer's measures, as the order-log table holds them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RfmMeasures {
    pub recency_days: f64,
    pub frequency: f64,
    pub monetary: f64,
    /// Mean days between orders; none for one-order customers.
    pub mean_gap_days: Option<f64>,
    pub age_days: f64,
}

/// The usual RFM segment map on R (rows) and the mean of F and M rounded down (FM).
/// The first matching row names the group.
///
/// | group               | R     | FM    |
/// |---------------------|-------|-------|
/// | champions           | 5     | 4–5   |
/// | loyal customers     | 3–4   | 4–5   |
/// | can't lose them     | 1     | 5     |
/// | at risk             | 1–2   | 3–5   |
/// | potential loyalists | 4–5   | 2–3   |
/// | new customers       | 5     | 1     |
/// | promising           | 4     | 1     |
/// | need attention      | 3     | 2–3   |
/// | about to sleep      | 3     | 1     |
/// | hibernating         | 2     | 1–2   |
/// | lost                | 1     | 1–2   |
pub const GROUP_MAP: &[(&str, [u8; 2], [u8; 2])] = &[
    ("champions", [5, 5], [4, 5]),
    ("loyal customers", [3, 4], [4, 5]),
    ("can't lose them", [1, 1], [5, 5]),
    ("at risk", [1, 2], [3, 5]),
    ("potential loyalists", [4, 5], [2, 3]),
    ("new customers", [5, 5], [1, 1]),
    ("promising", [4, 4], [1, 1]),
    ("need attention", [3, 3], [2, 3]),
    ("about to sleep", [3, 3], [1, 1]),
    ("hibernating", [2, 2], [1, 2]),
    ("lost", [1, 1], [1, 2]),
];

/// The named group of scores R, F and M (each 1–5).
pub fn group(r: u8, f: u8, m: u8) -> &'static str {
    let fm = (f + m) / 2;
    GROUP_MAP
        .iter()
        .find(|(_, rs, fms)| (rs[0]..=rs[1]).contains(&r) && (fms[0]..=fms[1]).contains(&fm))
        .map_or("lost", |(name, _, _)| name)
}

/// The 20/40/60/80th percentiles (nearest rank: the value at rank ⌈p·n⌉) of the finite
/// values; zeros when none.
pub fn quintile_edges(values: &[f64]) -> [f64; 4] {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return [0.0; 4];
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    [1, 2, 3, 4].map(|q| sorted[(q * n).div_ceil(5).max(1) - 1])
}

/// Score 1–5: one plus the number of edges `value` is above, so a value equal to an
/// edge stays in the lower fifth and equal values always share a score (the many
/// one-order customers all score F = 1). `higher_is_better` false reverses (recency).
pub fn score(value: f64, edges: &[f64; 4], higher_is_better: bool) -> u8 {
    let above = edges.iter().filter(|&&edge| value > edge).count() as u8;
    match higher_is_better {
        true => above + 1,
        false => 5 - above,
    }
}

/// Lifecycle status judged against the customer's own rhythm of ordering.
///
/// The gap is the customer's mean days between orders, or the training population's
/// median gap for one-order customers. Then, first match wins:
/// - **new**: first order less than 2 gaps ago;
/// - **active**: last order at most 1.5 gaps ago;
/// - **at risk**: at most 3 gaps ago;
/// - **lapsed**: at most 6 gaps ago, or within the churn window;
/// - **lost**: beyond both.
pub fn lifecycle(
    measures: &RfmMeasures,
    median_gap_days: f64,
    churn_after_days: f64,
) -> &'static str {
    let gap = measures
        .mean_gap_days
        .filter(|g| g.is_finite() && *g > 0.0)
        .unwrap_or(median_gap_days)
        .max(1.0);
    let recency = measures.recency_days;
    if measures.age_days < 2.0 * gap {
        "new"
    } else if recency <= 1.5 * gap {
        "active"
    } else if recency <= 3.0 * gap {
        "at risk"
    } else if recency <= 6.0 * gap || recency <= churn_after_days {
        "lapsed"
    } else {
        "lost"
    }
}

impl RfmModel {
    /// Fit on the order-log customer table; none when it lacks the RFM columns or has
    /// no customer with all of them.
    pub fn fit(table: &Table, churn_after_days: f64) -> Option<RfmModel> {
        let customers = measures_of(table)?;
        if customers.is_empty() {
            return None;
        }
        let pick = |f: fn(&RfmMeasures) -> f64| customers.iter().map(f).collect::<Vec<_>>();
        let gaps: Vec<f64> = customers.iter().filter_map(|c| c.mean_gap_days).collect();
        let mut model = RfmModel {
            recency_edges: quintile_edges(&pick(|c| c.recency_days)),
            frequency_edges: quintile_edges(&pick(|c| c.frequency)),
            monetary_edges: quintile_edges(&pick(|c| c.monetary)),
            median_gap_days: median(&gaps).unwrap_or(churn_after_days),
            churn_after_days,
            group_counts: BTreeMap::new(),
            rf_counts: [[0; 5]; 5],
            lifecycle_counts: BTreeMap::new(),
            rf_groups: Default::default(),
        };
        let mut in_cell: BTreeMap<(usize, usize, &'static str), usize> = BTreeMap::new();
        for customer in &customers {
            let answer = model.answer(customer);
            *model
                .group_counts
                .entry(answer.group.to_string())
                .or_default() += 1;
            let status = answer.lifecycle.to_string();
            *model.lifecycle_counts.entry(status).or_default() += 1;
            let (r, f) = (usize::from(answer.r) - 1, usize::from(answer.f) - 1);
            model.rf_counts[r][f] += 1;
            *in_cell.entry((r, f, answer.group)).or_default() += 1;
        }
        for r in 0..5 {
            for f in 0..5 {
                let most = (in_cell.iter())
                    .filter(|((cr, cf, _), _)| (*cr, *cf) == (r, f))
                    .max_by_key(|(_, n)| **n);
                if let Some(((_, _, group), _)) = most {
                    model.rf_groups[r][f] = group.to_string();
                }
            }
        }
        Some(model)
    }

    pub fn answer(&self, c: &RfmMeasures) -> RfmAnswer {
        let r = score(c.recency_days, &self.recency_edges, false);
        let f = score(c.frequency, &self.frequency_edges, true);
        let m = score(c.monetary, &self.monetary_edges, true);
        RfmAnswer {
            r,
            f,
            m,
            cell: format!("{r}{f}{m}"),
            group: group(r, f, m),
            lifecycle: lifecycle(c, self.median_gap_days, self.churn_after_days),
        }
    }

    /// The quintile edges and the training customers per group, for `inspect`.
    pub fn describe(&self) -> String {
        let edges = |e: &[f64; 4]| e.map(|x| format!("{x:.2}")).join(" / ");
        let mut out = format!(
            "\nRFM quintile edges (20/40/60/80%; recency: lower scores higher):\n  recency_days {}\n  frequency    {}\n  monetary     {}\nlifecycle rhythm for one-order customers: median gap {:.1} days; churn window {} days\ncustomers per RFM group:\n",
            edges(&self.recency_edges),
            edges(&self.frequency_edges),
            edges(&self.monetary_edges),
            self.median_gap_days,
            self.churn_after_days,
        );
        for (name, _, _) in GROUP_MAP {
            let count = self.group_counts.get(*name).copied().unwrap_or(0);
            out.push_str(&format!("  {name:<20} {count}\n"));
        }
        if !self.lifecycle_counts.is_empty() {
            out.push_str("customers per lifecycle status:\n");
            for status in LIFECYCLE {
                let count = self.lifecycle_counts.get(status).copied().unwrap_or(0);
                out.push_str(&format!("  {status:<20} {count}\n"));
            }
        }
        out
    }

    /// Every number the model holds, for the bundle's checks.
    pub fn figures(&self) -> impl Iterator<Item = f64> + '_ {
        self.recency_edges
            .iter()
            .chain(&self.frequency_edges)
            .chain(&self.monetary_edges)
            .copied()
            .chain([self.median_gap_days, self.churn_after_days])
    }
}

impl RfmMeasures {
    /// Measures from values in [`RFM_INPUTS`] order; none when a required one is
    /// missing or not finite.
    pub fn from_values([recency, frequency, monetary, gap, age]: [Option<f64>; 5]) -> Option<Self> {
        let finite = |x: Option<f64>| x.filter(|v| v.is_finite());
        Some(RfmMeasures {
            recency_days: finite(recency)?,
            frequency: finite(frequency)?,
            monetary: finite(monetary)?,
            mean_gap_days: finite(gap),
            age_days: finite(age)?,
        })
    }
}

fn measures_of(table: &Table) -> Option<Vec<RfmMeasures>> {
    let columns = RFM_INPUTS.map(|name| table.column(name).and_then(|c| c.numeric()));
    let [r, f, m, g, a] = columns;
    let (r, f, m, g, a) = (r?, f?, m?, g?, a?);
    Some(
        (0..table.rows())
            .filter_map(|i| RfmMeasures::from_values([r[i], f[i], m[i], g[i], a[i]]))
            .collect(),
    )
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    Some(match n % 2 {
        1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quintile_edges_split_one_to_ten_in_fifths() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let edges = quintile_edges(&values);
        assert_eq!(edges, [2.0, 4.0, 6.0, 8.0]);
        let scores: Vec<u8> = values.iter().map(|&x| score(x, &edges, true)).collect();
        assert_eq!(scores, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
        let scores: Vec<u8> = values.iter().map(|&x| score(x, &edges, false)).collect();
        assert_eq!(scores, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn ties_share_one_score() {
        // Most customers order once: every one-order customer gets the same F score.
        let edges = quintile_edges(&[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 8.0]);
        assert_eq!(edges, [1.0, 1.0, 1.0, 2.0]);
        assert_eq!(score(1.0, &edges, true), 1);
        assert_eq!(score(2.0, &edges, true), 4);
        assert_eq!(score(3.0, &edges, true), 5);
        assert_eq!(score(8.0, &edges, true), 5);
    }

    #[test]
    fn group_map_names_the_classic_cells() {
        assert_eq!(group(5, 5, 5), "champions");
        assert_eq!(group(4, 5, 4), "loyal customers");
        assert_eq!(group(1, 5, 5), "can't lose them");
        assert_eq!(group(2, 4, 3), "at risk");
        assert_eq!(group(5, 3, 2), "potential loyalists");
        assert_eq!(group(5, 1, 1), "new customers");
        assert_eq!(group(4, 1, 1), "promising");
        assert_eq!(group(3, 3, 2), "need attention");
        assert_eq!(group(3, 1, 1), "about to sleep");
        assert_eq!(group(2, 2, 1), "hibernating");
        assert_eq!(group(1, 1, 2), "lost");
    }

    #[test]
    fn every_cell_has_a_group_from_the_map() {
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    let name = group(r, f, m);
                    assert!(GROUP_MAP.iter().any(|(g, _, _)| *g == name), "{r}{f}{m}");
                }
            }
        }
    }

    fn customer(recency: f64, gap: Option<f64>, age: f64) -> RfmMeasures {
        RfmMeasures {
            recency_days: recency,
            frequency: if gap.is_some() { 3.0 } else { 1.0 },
            monetary: 100.0,
            mean_gap_days: gap,
            age_days: age,
        }
    }

    #[test]
    fn lifecycle_follows_the_customers_own_rhythm() {
        let status = |recency, gap, age| lifecycle(&customer(recency, gap, age), 30.0, 90.0);
        assert_eq!(status(5.0, Some(10.0), 15.0), "new");
        assert_eq!(status(15.0, Some(10.0), 200.0), "active");
        assert_eq!(status(25.0, Some(10.0), 200.0), "at risk");
        assert_eq!(status(55.0, Some(10.0), 200.0), "lapsed");
        // Beyond six gaps but inside the churn window: still lapsed, not lost.
        assert_eq!(status(85.0, Some(10.0), 200.0), "lapsed");
        assert_eq!(status(95.0, Some(10.0), 200.0), "lost");
        // One order: judged against the population's median gap (30 days).
        assert_eq!(status(40.0, None, 40.0), "new");
        assert_eq!(status(70.0, None, 70.0), "at risk");
        assert_eq!(status(400.0, None, 400.0), "lost");
    }

    proptest! {
        #[test]
        fn scores_are_one_to_five_and_monotone(
            values in proptest::collection::vec(0.0f64..1e6, 1..200),
            a in 0.0f64..1e6,
            b in 0.0f64..1e6,
        ) {
            let edges = quintile_edges(&values);
            let (low, high) = if a <= b { (a, b) } else { (b, a) };
            for better in [true, false] {
                let (s_low, s_high) = (score(low, &edges, better), score(high, &edges, better));
                prop_assert!((1..=5).contains(&s_low) && (1..=5).contains(&s_high));
                let monotone = if better { s_low <= s_high } else { s_low >= s_high };
                prop_assert!(monotone, "{} {} scored {} {}", low, high, s_low, s_high);
            }
            prop_assert!(edges.windows(2).all(|w| w[0] <= w[1]));
        }
    }
}
