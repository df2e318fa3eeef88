//! The Qini curve: customers ranked by predicted uplift, and at each depth the responses
//! in treatment minus the control responses scaled to the treatment's size
//! (Radcliffe 2007). Areas are normalised as causalml's `qini_score` and `auuc_score`
//! normalise them (by the value at full depth, over depths 0..=n), so figures compare
//! with that library's; our random line is exact where causalml averages ten shuffles.

use serde::{Deserialize, Serialize};

/// One ranked contact: its predicted uplift, arm and outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    pub uplift: f64,
    pub treated: bool,
    pub outcome: bool,
}

/// Points of a Qini curve: the share of customers targeted (best first) and the
/// incremental responses gained by then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QiniCurve {
    pub points: Vec<QiniPoint>,
    /// Qini AUC: the mean height of the curve above the random line (straight from 0 to
    /// the campaign's total increment), in units of that total increment.
    pub qini_auc: f64,
    /// AUUC: the mean cumulative uplift gain (treatment rate minus control rate among the
    /// top k, times k), in units of the total gain (random ranking: about 1/2).
    pub auuc: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QiniPoint {
    pub share: f64,
    pub incremental: f64,
}

/// Running counts from the top of the ranking.
#[derive(Default, Clone, Copy)]
struct Counts {
    treated: f64,
    control: f64,
    treated_responses: f64,
    control_responses: f64,
}

impl Counts {
    fn add(&mut self, r: &Ranked) {
        let response = f64::from(u8::from(r.outcome));
        match r.treated {
            true => (self.treated += 1.0, self.treated_responses += response),
            false => (self.control += 1.0, self.control_responses += response),
        };
    }

    /// Treatment responses minus control responses scaled to the treatment's size.
    fn qini(&self) -> f64 {
        match self.control > 0.0 {
            true => self.treated_responses - self.control_responses * self.treated / self.control,
            false => self.treated_responses,
        }
    }

    /// Rate difference times the number targeted (0 until both arms are present).
    fn gain(&self) -> f64 {
        if self.treated == 0.0 || self.control == 0.0 {
            return 0.0;
        }
        let rates = self.treated_responses / self.treated - self.control_responses / self.control;
        rates * (self.treated + self.control)
    }
}

/// The Qini curve (with `points` + 1 points from 0 to everyone) and its areas. Ranking
/// is by descending uplift; ties keep the given order.
pub fn qini_curve(rows: &[Ranked], points: usize) -> QiniCurve {
    let mut order: Vec<&Ranked> = rows.iter().collect();
    order.sort_by(|a, b| b.uplift.total_cmp(&a.uplift));
    let n = order.len();
    let (mut counts, mut qini, mut gain) = (Counts::default(), Vec::new(), Vec::new());
    for r in &order {
        counts.add(r);
        qini.push(counts.qini());
        gain.push(counts.gain());
    }
    let points = points.max(1);
    let curve = (0..=points)
        .map(|p| {
            let k = n * p / points;
            QiniPoint {
                share: p as f64 / points as f64,
                incremental: if k == 0 { 0.0 } else { qini[k - 1] },
            }
        })
        .collect();
    QiniCurve {
        points: curve,
        qini_auc: normalised_area(&qini, true),
        auuc: normalised_area(&gain, false),
    }
}

/// Mean over depths 0..=n of the curve (less the random line when `above_random`) over
/// |curve at n|; 0 for an empty ranking or a campaign with no total increment.
fn normalised_area(curve: &[f64], above_random: bool) -> f64 {
    let n = curve.len();
    let Some(&total) = curve.last() else {
        return 0.0;
    };
    if total == 0.0 || !total.is_finite() {
        return 0.0;
    }
    let random = |k: usize| match above_random {
        true => total * k as f64 / n as f64,
        false => 0.0,
    };
    let area: f64 = (1..=n).map(|k| curve[k - 1] - random(k)).sum();
    area / total.abs() / (n + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(uplift: f64, treated: bool, outcome: bool) -> Ranked {
        Ranked {
            uplift,
            treated,
            outcome,
        }
    }

    /// Four persuadables (respond only when treated) and four customers who never respond,
    /// half of each group in each arm.
    fn known() -> Vec<Ranked> {
        vec![
            row(0.0, true, true),
            row(0.0, false, false),
            row(0.0, true, true),
            row(0.0, false, false),
            row(0.0, true, false),
            row(0.0, false, false),
            row(0.0, true, false),
            row(0.0, false, false),
        ]
    }

    #[test]
    fn a_perfect_ranking_beats_random_and_reverse() {
        let persuadable = [true, true, true, true, false, false, false, false];
        let mut perfect = known();
        // Treated responders first, then the control rows of the same customers, then the
        // rest: the increment of 2 is all earned in the top half.
        for (r, good) in perfect.iter_mut().zip(persuadable) {
            r.uplift = if good { 1.0 } else { 0.0 };
        }
        let best = qini_curve(&perfect, 4);
        let heights: Vec<f64> = best.points.iter().map(|p| p.incremental).collect();
        // Depth 2: one treated responder, one control (scaled 1/1): 1; depth 4: 2;
        // then treated non-responders and control non-responders: stays at 2.
        assert_eq!(heights, vec![0.0, 1.0, 2.0, 2.0, 2.0]);
        // Curve by depth: 1,1,2,2,2,2,2,2 against random 0.25..2: sum of gaps 5, /2 /9.
        let expected =
            (1.0 - 0.25 + 1.0 - 0.5 + 2.0 - 0.75 + 2.0 - 1.0 + 2.0 - 1.25 + 2.0 - 1.5 + 2.0 - 1.75)
                / 2.0
                / 9.0;
        assert!(
            (best.qini_auc - expected).abs() < 1e-12,
            "{}",
            best.qini_auc
        );
        let mut reverse = perfect.clone();
        reverse.iter_mut().for_each(|r| r.uplift = -r.uplift);
        let worst = qini_curve(&reverse, 4);
        assert!(worst.qini_auc < 0.0, "{}", worst.qini_auc);
        assert!(best.auuc > worst.auuc);
    }

    #[test]
    fn no_increment_gives_zero_areas() {
        let flat = vec![row(0.3, true, true), row(0.1, false, true)];
        let curve = qini_curve(&flat, 10);
        assert_eq!((curve.qini_auc, curve.auuc), (0.0, 0.0));
        assert_eq!(qini_curve(&[], 10).points.len(), 11);
    }

    fn rows() -> impl Strategy<Value = Vec<Ranked>> {
        prop::collection::vec(
            (-1.0f64..1.0, any::<bool>(), any::<bool>()).prop_map(|(u, t, o)| row(u, t, o)),
            1..200,
        )
    }

    proptest! {
        #[test]
        fn the_curve_runs_from_zero_to_the_total_increment(rows in rows()) {
            let curve = qini_curve(&rows, 20);
            let mut all = Counts::default();
            rows.iter().for_each(|r| all.add(r));
            prop_assert_eq!(curve.points[0].incremental, 0.0);
            let last = curve.points.last().map(|p| p.incremental).unwrap_or_default();
            prop_assert!((last - all.qini()).abs() < 1e-9);
            prop_assert!(curve.points.windows(2).all(|w| w[0].share < w[1].share));
        }

        #[test]
        fn areas_depend_on_the_ranking_only(rows in rows(), scale in 0.1f64..10.0) {
            // A strictly increasing transform of every score keeps the order, so the areas.
            let moved: Vec<Ranked> = rows
                .iter()
                .map(|r| Ranked { uplift: (r.uplift * scale).exp(), ..*r })
                .collect();
            let (a, b) = (qini_curve(&rows, 10), qini_curve(&moved, 10));
            prop_assert!((a.qini_auc - b.qini_auc).abs() < 1e-9);
            prop_assert!((a.auuc - b.auuc).abs() < 1e-9);
        }

        #[test]
        fn ranking_by_the_true_effect_is_never_beaten_by_its_reverse(
            effects in prop::collection::vec((any::<bool>(), any::<bool>()), 4..100)
        ) {
            // Persuadables (the flag) respond exactly when treated; others never respond.
            // Each customer appears in both arms, so a ranking by the flag is perfect.
            let mut rows = Vec::new();
            for &(persuadable, _) in &effects {
                let u = if persuadable { 1.0 } else { 0.0 };
                rows.push(row(u, true, persuadable));
                rows.push(row(u, false, false));
            }
            let best = qini_curve(&rows, 10).qini_auc;
            let reversed: Vec<Ranked> = rows.iter().map(|r| Ranked { uplift: -r.uplift, ..*r }).collect();
            prop_assert!(best >= qini_curve(&reversed, 10).qini_auc - 1e-12);
        }
    }
}
