//! How a campaign did: per model version, the realized AUC and lift by decile of the
//! churn probability at contact time and predicted against observed rates per band; per
//! arm, outcome rates and mean value with 95% intervals, the treatment − control
//! difference (Newcombe), its z-test p-value, and incremental outcomes and value.

use super::contacts::Arm;
use super::store::ContactOutcome;
use crate::models::classifier::cv::auc;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Two-sided 95% normal quantile.
const Z95: f64 = 1.959_963_984_540_054;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignReport {
    pub campaign: String,
    /// The event type counted as the outcome (e.g. churned, responded).
    pub outcome: String,
    pub contacts: usize,
    pub versions: Vec<VersionReport>,
    pub treatment: ArmFigures,
    pub control: ArmFigures,
    pub effect: Effect,
}

/// How well one model version's scores at contact time ranked what happened.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct VersionReport {
    pub model_version: String,
    pub contacts: usize,
    pub outcome_rate: f64,
    /// AUC of the churn probability for the outcome, over all contacts and over the
    /// control group (untouched by the action); absent when one class is missing.
    pub auc: Option<f64>,
    pub auc_control: Option<f64>,
    /// Tenths of the contacts by churn probability, highest first.
    pub deciles: Vec<Decile>,
    pub bands: Vec<BandFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Decile {
    pub decile: usize,
    pub contacts: usize,
    pub mean_probability: f64,
    pub outcome_rate: f64,
    /// Outcome rate over the version's overall rate.
    pub lift: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct BandFigures {
    pub band: String,
    pub contacts: usize,
    pub predicted: f64,
    pub observed: f64,
    pub control_contacts: usize,
    pub control_observed: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ArmFigures {
    pub contacts: usize,
    pub outcomes: usize,
    pub rate: Option<f64>,
    /// Wilson score interval.
    pub rate_ci: Option<[f64; 2]>,
    /// Mean over contacts of the summed event values (0 for a contact without events).
    pub mean_value: Option<f64>,
    pub mean_value_ci: Option<[f64; 2]>,
}

/// Treatment − control.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Effect {
    pub rate_difference: Option<f64>,
    /// Newcombe's hybrid score interval (from the two Wilson intervals).
    pub rate_difference_ci: Option<[f64; 2]>,
    /// Two-proportion z-test (pooled), two-sided.
    pub z: Option<f64>,
    pub p_value: Option<f64>,
    /// Rate difference × treated contacts.
    pub incremental_outcomes: Option<f64>,
    pub incremental_outcomes_ci: Option<[f64; 2]>,
    pub value_difference: Option<f64>,
    pub value_difference_ci: Option<[f64; 2]>,
    /// Value difference × treated contacts.
    pub incremental_value: Option<f64>,
}

/// Evaluate a campaign's contacts and outcomes.
pub fn evaluate(campaign: &str, outcome: &str, rows: &[ContactOutcome]) -> CampaignReport {
    let mut by_version: BTreeMap<&str, Vec<&ContactOutcome>> = BTreeMap::new();
    for row in rows {
        by_version.entry(&row.model_version).or_default().push(row);
    }
    let treatment: Vec<&ContactOutcome> = rows.iter().filter(|r| r.arm == Arm::Treatment).collect();
    let control: Vec<&ContactOutcome> = rows.iter().filter(|r| r.arm == Arm::Control).collect();
    let (t, c) = (arm_figures(&treatment), arm_figures(&control));
    CampaignReport {
        campaign: campaign.to_string(),
        outcome: outcome.to_string(),
        contacts: rows.len(),
        versions: by_version
            .into_iter()
            .map(|(version, rows)| version_report(version, &rows))
            .collect(),
        effect: effect(&treatment, &control, &t, &c),
        treatment: t,
        control: c,
    }
}

fn rate(rows: &[&ContactOutcome]) -> f64 {
    rows.iter().filter(|r| r.outcome).count() as f64 / rows.len().max(1) as f64
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn version_report(version: &str, rows: &[&ContactOutcome]) -> VersionReport {
    let scored: Vec<&ContactOutcome> = rows
        .iter()
        .copied()
        .filter(|r| r.churn_probability.is_some())
        .collect();
    let realized_auc = |rows: &[&ContactOutcome]| {
        let y: Vec<bool> = rows.iter().map(|r| r.outcome).collect();
        let p: Vec<f64> = rows.iter().filter_map(|r| r.churn_probability).collect();
        finite(auc(&y, &p))
    };
    let control: Vec<&ContactOutcome> = scored
        .iter()
        .copied()
        .filter(|r| r.arm == Arm::Control)
        .collect();
    let overall = rate(rows);
    VersionReport {
        model_version: version.to_string(),
        contacts: rows.len(),
        outcome_rate: overall,
        auc: realized_auc(&scored),
        auc_control: realized_auc(&control),
        deciles: deciles(&scored, rate(&scored)),
        bands: bands(&scored),
    }
}

fn probability(row: &ContactOutcome) -> f64 {
    row.churn_probability.unwrap_or(0.0)
}

fn deciles(rows: &[&ContactOutcome], overall: f64) -> Vec<Decile> {
    let mut sorted = rows.to_vec();
    sorted.sort_by(|a, b| probability(b).total_cmp(&probability(a)));
    let n = sorted.len();
    (0..10)
        .map(|d| &sorted[d * n / 10..(d + 1) * n / 10])
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(d, part)| {
            let observed = rate(part);
            Decile {
                decile: d + 1,
                contacts: part.len(),
                mean_probability: part.iter().map(|r| probability(r)).sum::<f64>()
                    / part.len() as f64,
                outcome_rate: observed,
                lift: (overall > 0.0).then(|| observed / overall),
            }
        })
        .collect()
}

fn bands(rows: &[&ContactOutcome]) -> Vec<BandFigures> {
    let mut by_band: BTreeMap<&str, Vec<&ContactOutcome>> = BTreeMap::new();
    for row in rows {
        by_band
            .entry(row.risk_band.as_deref().unwrap_or(""))
            .or_default()
            .push(row);
    }
    by_band
        .into_iter()
        .map(|(band, part)| {
            let control: Vec<&ContactOutcome> = part
                .iter()
                .copied()
                .filter(|r| r.arm == Arm::Control)
                .collect();
            BandFigures {
                band: band.to_string(),
                contacts: part.len(),
                predicted: part.iter().map(|r| probability(r)).sum::<f64>() / part.len() as f64,
                observed: rate(&part),
                control_contacts: control.len(),
                control_observed: (!control.is_empty()).then(|| rate(&control)),
            }
        })
        .collect()
}

fn mean_and_variance(values: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let values: Vec<f64> = values.collect();
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let variance = match n > 1 {
        true => values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64,
        false => 0.0,
    };
    (mean, variance, n)
}

fn arm_figures(rows: &[&ContactOutcome]) -> ArmFigures {
    let n = rows.len();
    let outcomes = rows.iter().filter(|r| r.outcome).count();
    let (mean, variance, _) = mean_and_variance(rows.iter().map(|r| r.value));
    let half = Z95 * (variance / n.max(1) as f64).sqrt();
    ArmFigures {
        contacts: n,
        outcomes,
        rate: (n > 0).then(|| outcomes as f64 / n as f64),
        rate_ci: (n > 0).then(|| wilson(outcomes, n)),
        mean_value: (n > 0).then_some(mean),
        mean_value_ci: (n > 0).then_some([mean - half, mean + half]),
    }
}

fn effect(
    treatment: &[&ContactOutcome],
    control: &[&ContactOutcome],
    t: &ArmFigures,
    c: &ArmFigures,
) -> Effect {
    let (nt, nc) = (t.contacts, c.contacts);
    if nt == 0 || nc == 0 {
        return Effect {
            rate_difference: None,
            rate_difference_ci: None,
            z: None,
            p_value: None,
            incremental_outcomes: None,
            incremental_outcomes_ci: None,
            value_difference: None,
            value_difference_ci: None,
            incremental_value: None,
        };
    }
    let difference = t.outcomes as f64 / nt as f64 - c.outcomes as f64 / nc as f64;
    let ci = newcombe(t.outcomes, nt, c.outcomes, nc);
    let z = two_proportion_z(t.outcomes, nt, c.outcomes, nc);
    let (mt, vt, _) = mean_and_variance(treatment.iter().map(|r| r.value));
    let (mc, vc, _) = mean_and_variance(control.iter().map(|r| r.value));
    let value_half = Z95 * (vt / nt as f64 + vc / nc as f64).sqrt();
    let treated = nt as f64;
    Effect {
        rate_difference: Some(difference),
        rate_difference_ci: Some(ci),
        z,
        p_value: z.map(|z| erfc(z.abs() / std::f64::consts::SQRT_2)),
        incremental_outcomes: Some(difference * treated),
        incremental_outcomes_ci: Some([ci[0] * treated, ci[1] * treated]),
        value_difference: Some(mt - mc),
        value_difference_ci: Some([mt - mc - value_half, mt - mc + value_half]),
        incremental_value: Some((mt - mc) * treated),
    }
}

/// Wilson score interval for `x` successes in `n` trials.
pub fn wilson(x: usize, n: usize) -> [f64; 2] {
    let (n, p) = (n as f64, x as f64 / n as f64);
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    [centre - half, centre + half]
}

/// Newcombe's hybrid score interval for p1 − p2 (his method 10).
pub fn newcombe(x1: usize, n1: usize, x2: usize, n2: usize) -> [f64; 2] {
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let ([l1, u1], [l2, u2]) = (wilson(x1, n1), wilson(x2, n2));
    let d = p1 - p2;
    [
        d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt(),
        d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt(),
    ]
}

/// Pooled two-proportion z statistic; None when the pooled rate is 0 or 1.
pub fn two_proportion_z(x1: usize, n1: usize, x2: usize, n2: usize) -> Option<f64> {
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f)).sqrt();
    (se > 0.0).then(|| (x1 as f64 / n1f - x2 as f64 / n2f) / se)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit, relative error below
/// 1.2e-7 everywhere).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    match x >= 0.0 {
        true => r,
        false => 2.0 - r,
    }
}

impl CampaignReport {
    /// The report as text for the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let pct = |x: Option<f64>| x.map_or("-".into(), |x| format!("{:.2}%", 100.0 * x));
        let ci = |x: Option<[f64; 2]>, scale: f64| {
            x.map_or("-".into(), |[a, b]| {
                format!("[{:.2}, {:.2}]", a * scale, b * scale)
            })
        };
        let num = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
        let _ = writeln!(
            out,
            "campaign {}: {} contacts, outcome `{}`",
            self.campaign, self.contacts, self.outcome
        );
        for v in &self.versions {
            let _ = writeln!(
                out,
                "\nmodel {}: {} contacts, outcome rate {}, realized AUC {} (control only {})",
                v.model_version,
                v.contacts,
                pct(Some(v.outcome_rate)),
                num(v.auc),
                num(v.auc_control)
            );
            let _ = writeln!(out, "  decile  contacts  mean p   rate     lift");
            for d in &v.deciles {
                let _ = writeln!(
                    out,
                    "  {:>6}  {:>8}  {:.3}  {:>7}  {}",
                    d.decile,
                    d.contacts,
                    d.mean_probability,
                    pct(Some(d.outcome_rate)),
                    d.lift.map_or("-".into(), |l| format!("{l:.2}"))
                );
            }
            let _ = writeln!(
                out,
                "  band      contacts  predicted  observed  control observed"
            );
            for b in &v.bands {
                let _ = writeln!(
                    out,
                    "  {:<8}  {:>8}  {:>9}  {:>8}  {} of {}",
                    b.band,
                    b.contacts,
                    pct(Some(b.predicted)),
                    pct(Some(b.observed)),
                    pct(b.control_observed),
                    b.control_contacts
                );
            }
        }
        let _ = writeln!(
            out,
            "\narm        contacts  outcomes  rate [95% CI]            mean value [95% CI]"
        );
        for (name, arm) in [("treatment", &self.treatment), ("control", &self.control)] {
            let _ = writeln!(
                out,
                "{name:<9}  {:>8}  {:>8}  {} {}  {} {}",
                arm.contacts,
                arm.outcomes,
                pct(arm.rate),
                ci(arm.rate_ci, 100.0),
                num(arm.mean_value),
                ci(arm.mean_value_ci, 1.0)
            );
        }
        let e = &self.effect;
        let _ = writeln!(
            out,
            "treatment − control: rate {} {} (percentage points), z {}, p-value {}",
            e.rate_difference
                .map_or("-".into(), |d| format!("{:+.2}", 100.0 * d)),
            ci(e.rate_difference_ci, 100.0),
            num(e.z),
            e.p_value.map_or("-".into(), |p| format!("{p:.4}"))
        );
        let _ = writeln!(
            out,
            "incremental outcomes {} {}; value per contact {} {}; incremental value {}",
            num(e.incremental_outcomes),
            ci(e.incremental_outcomes_ci, 1.0),
            num(e.value_difference),
            ci(e.value_difference_ci, 1.0),
            num(e.incremental_value)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn wilson_and_newcombe_match_newcombe_1998() {
        // Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 vs
        // 48/80, method 10 gives 0.0524 to 0.3339.
        let [lo, hi] = newcombe(56, 70, 48, 80);
        assert!(
            close(lo, 0.0524, 5e-4) && close(hi, 0.3339, 5e-4),
            "{lo} {hi}"
        );
        // Wilson for 81/263 (Newcombe 1998, Statistics in Medicine 17, 857: 0.2553–0.3662).
        let [lo, hi] = wilson(81, 263);
        assert!(
            close(lo, 0.2553, 5e-4) && close(hi, 0.3662, 5e-4),
            "{lo} {hi}"
        );
    }

    #[test]
    fn the_z_test_and_erfc_give_known_p_values() {
        assert!(close(erfc(0.0), 1.0, 1e-7));
        assert!(close(erfc(1.0), 0.157_299_207, 1e-7));
        assert!(close(erfc(-1.0), 1.842_700_793, 1e-7));
        // p-value of |z| = 1.96 is 0.05.
        assert!(close(erfc(Z95 / std::f64::consts::SQRT_2), 0.05, 1e-6));
        // 56/70 vs 48/80: z = 0.2 / sqrt(104/150 · 46/150 · (1/70 + 1/80)) = 2.6502.
        let z = two_proportion_z(56, 70, 48, 80).unwrap();
        assert!(close(z, 2.6502, 1e-3), "{z}");
        assert_eq!(two_proportion_z(0, 10, 0, 10), None);
    }

    fn row(version: &str, arm: Arm, p: f64, outcome: bool, value: f64) -> ContactOutcome {
        ContactOutcome {
            model_version: version.into(),
            arm,
            churn_probability: Some(p),
            risk_band: Some(if p > 0.5 { "high" } else { "low" }.into()),
            outcome,
            value,
        }
    }

    #[test]
    fn a_perfect_ranking_has_auc_one_and_falling_lift() {
        let rows: Vec<ContactOutcome> = (0..100)
            .map(|i| {
                let arm = if i % 10 == 0 {
                    Arm::Control
                } else {
                    Arm::Treatment
                };
                row(
                    "v1",
                    arm,
                    i as f64 / 100.0,
                    i >= 80,
                    if i >= 80 { 10.0 } else { 0.0 },
                )
            })
            .collect();
        let report = evaluate("c", "churned", &rows);
        let v = &report.versions[0];
        assert_eq!(v.auc, Some(1.0));
        assert_eq!(v.deciles.len(), 10);
        assert_eq!(v.deciles[0].lift, Some(5.0));
        assert_eq!(v.deciles[9].outcome_rate, 0.0);
        assert_eq!(report.treatment.contacts + report.control.contacts, 100);
        assert_eq!(report.control.contacts, 10);
        let high = v.bands.iter().find(|b| b.band == "high").unwrap();
        assert_eq!((high.contacts, high.observed), (49, 20.0 / 49.0));
    }

    #[test]
    fn without_a_control_group_there_is_no_effect() {
        let rows = vec![row("v1", Arm::Treatment, 0.3, true, 5.0)];
        let report = evaluate("c", "responded", &rows);
        assert_eq!(report.effect.rate_difference, None);
        assert_eq!(report.control.rate, None);
        assert!(report.table().contains("treatment − control: rate -"));
        assert!(serde_json::to_string(&report).is_ok());
    }
}
