//! The campaigns section: for each campaign read from the outcomes store, the figures of
//! `custscore evaluate` (the same [`CampaignReport`], drawn instead of printed), and the
//! bundle's uplift model with its held-out Qini curve when it has one.

use super::svg::{self, esc};
use super::{pct, table};
use crate::bundle::Bundle;
use crate::models::uplift::UpliftModel;
use crate::outcomes::evaluate::{ArmFigures, VersionReport};
use crate::outcomes::CampaignReport;
use std::fmt::Write;

/// A difference is called significant below this two-sided p-value.
const SIGNIFICANCE: f64 = 0.05;

/// The section, or `None` when there is neither a campaign nor an uplift model to show.
pub(super) fn section(bundle: &Bundle, campaigns: &[CampaignReport]) -> Option<String> {
    if campaigns.is_empty() && bundle.uplift.is_none() {
        return None;
    }
    let mut out = String::from(r#"<section id="campaigns"><h2>Campaigns</h2>"#);
    out.push_str(
        "<p class=\"muted\">Contacts recorded by <code>score --campaign</code> and the outcomes \
         that followed, as <code>custscore evaluate</code> reports them. Treatment against \
         control shows what the contact caused; the lift and calibration show how well \
         each model version's scores at contact time ranked what happened.</p>",
    );
    for (i, report) in campaigns.iter().enumerate() {
        out.push_str(&campaign(i + 1, report, &bundle.manifest.version));
    }
    if let Some(model) = &bundle.uplift {
        let source = bundle.manifest.training.campaign.as_ref();
        out.push_str(&uplift(model, source.map(|c| c.campaign.as_str())));
    }
    out.push_str("</section>");
    Some(out)
}

fn optional(x: Option<f64>, show: impl Fn(f64) -> String) -> String {
    x.map_or_else(|| "-".to_string(), show)
}

fn interval(x: Option<[f64; 2]>, show: impl Fn(f64) -> String) -> String {
    x.map_or_else(
        || "-".to_string(),
        |[lo, hi]| format!("[{}, {}]", show(lo), show(hi)),
    )
}

fn fixed(x: f64) -> String {
    format!("{x:.2}")
}

fn points(x: f64) -> String {
    format!("{:+.2}", 100.0 * x)
}

fn campaign(n: usize, r: &CampaignReport, bundle_version: &str) -> String {
    let mut out = format!(
        r#"<div class="campaign" id="campaign-{n}"><h3>{} · outcome <code>{}</code></h3><p>{} contacts: {} treated, {} in control.</p>"#,
        esc(&r.campaign),
        esc(&r.outcome),
        r.contacts,
        r.treatment.contacts,
        r.control.contacts
    );
    out.push_str(&arms(n, r));
    out.push_str(&versions_table(n, &r.versions, bundle_version));
    for (v, version) in r.versions.iter().enumerate() {
        out.push_str(&version_figures(n, v + 1, version));
    }
    out.push_str("</div>");
    out
}

/// Treatment against control: rates with their intervals, the difference and what it
/// adds up to.
fn arms(n: usize, r: &CampaignReport) -> String {
    let mut out = String::from("<h4>Treatment against control</h4>");
    let measured: Vec<(&str, &ArmFigures)> = [("treatment", &r.treatment), ("control", &r.control)]
        .into_iter()
        .filter(|(_, arm)| arm.rate.is_some())
        .collect();
    let names: Vec<String> = measured.iter().map(|(name, _)| name.to_string()).collect();
    let bars: Vec<(f64, [f64; 2])> = (measured.iter())
        .filter_map(|(_, arm)| Some((arm.rate?, arm.rate_ci?)))
        .collect();
    out.push_str(&svg::bars_with_intervals(
        &format!("{} rate by arm with 95% intervals", r.outcome),
        &names,
        &bars,
        true,
    ));
    let rows: Vec<Vec<String>> = (measured.iter())
        .map(|(name, arm)| {
            vec![
                name.to_string(),
                arm.contacts.to_string(),
                arm.outcomes.to_string(),
                optional(arm.rate, pct),
                interval(arm.rate_ci, pct),
                optional(arm.mean_value, fixed),
                interval(arm.mean_value_ci, fixed),
            ]
        })
        .collect();
    out.push_str(&table(
        &format!("campaign-{n}-arms"),
        &[
            "arm",
            "contacts",
            "outcomes",
            "rate",
            "rate 95% CI",
            "value per contact",
            "value 95% CI",
        ],
        &rows,
    ));
    let e = &r.effect;
    let verdict = match e.p_value {
        Some(p) if p < SIGNIFICANCE => format!("significant at the 5% level (p = {p:.4})"),
        Some(p) => format!("not significant at the 5% level (p = {p:.4})"),
        None => "no test: one arm is empty or the rate is 0 or 100% in both".to_string(),
    };
    let rows = vec![
        vec![
            "rate difference (percentage points)".to_string(),
            optional(e.rate_difference, points),
            interval(e.rate_difference_ci, points),
        ],
        vec![
            format!("incremental {} outcomes", r.outcome),
            optional(e.incremental_outcomes, fixed),
            interval(e.incremental_outcomes_ci, fixed),
        ],
        vec![
            "value difference per contact".to_string(),
            optional(e.value_difference, fixed),
            interval(e.value_difference_ci, fixed),
        ],
        vec![
            "incremental value".to_string(),
            optional(e.incremental_value, fixed),
            "-".to_string(),
        ],
        vec![
            "z (pooled two-proportion test)".to_string(),
            optional(e.z, |z| format!("{z:.3}")),
            "-".to_string(),
        ],
    ];
    out.push_str(&table(
        &format!("campaign-{n}-effect"),
        &["treatment − control", "estimate", "95% CI"],
        &rows,
    ));
    let _ = write!(
        out,
        "<p class=\"significance\">The difference is {}.</p>",
        esc(&verdict)
    );
    out
}

fn versions_table(n: usize, versions: &[VersionReport], bundle_version: &str) -> String {
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            let name = match v.model_version == bundle_version {
                true => format!("{} (this bundle)", v.model_version),
                false => v.model_version.clone(),
            };
            vec![
                name,
                v.contacts.to_string(),
                pct(v.outcome_rate),
                optional(v.auc, |a| format!("{a:.3}")),
                optional(v.auc_control, |a| format!("{a:.3}")),
            ]
        })
        .collect();
    let mut out = String::from("<h4>Model versions at contact time</h4>");
    out.push_str(&table(
        &format!("campaign-{n}-versions"),
        &[
            "model version",
            "contacts",
            "outcome rate",
            "realized AUC",
            "realized AUC (control only)",
        ],
        &rows,
    ));
    out
}

/// Lift by decile and predicted against observed per band for one model version.
fn version_figures(n: usize, v: usize, version: &VersionReport) -> String {
    let mut out = format!(
        "<h4>Version <code>{}</code>: lift by decile of the churn probability</h4>",
        esc(&version.model_version)
    );
    let deciles: Vec<String> = version
        .deciles
        .iter()
        .map(|d| d.decile.to_string())
        .collect();
    let lift: Vec<f64> = (version.deciles.iter())
        .map(|d| d.lift.unwrap_or(0.0))
        .collect();
    out.push_str(&svg::grouped_bars(
        &format!("lift by decile, {}", version.model_version),
        &deciles,
        &[("lift over the version's outcome rate", lift)],
        false,
    ));
    let rows: Vec<Vec<String>> = (version.deciles.iter())
        .map(|d| {
            vec![
                d.decile.to_string(),
                d.contacts.to_string(),
                pct(d.mean_probability),
                pct(d.outcome_rate),
                optional(d.lift, fixed),
            ]
        })
        .collect();
    out.push_str(&table(
        &format!("campaign-{n}-deciles-{v}"),
        &[
            "decile",
            "contacts",
            "mean probability",
            "outcome rate",
            "lift",
        ],
        &rows,
    ));
    out.push_str("<h4>Predicted against observed per risk band</h4>");
    let bands: Vec<String> = version.bands.iter().map(|b| b.band.clone()).collect();
    out.push_str(&svg::grouped_bars(
        &format!("predicted vs observed by band, {}", version.model_version),
        &bands,
        &[
            (
                "predicted",
                version.bands.iter().map(|b| b.predicted).collect(),
            ),
            (
                "observed",
                version.bands.iter().map(|b| b.observed).collect(),
            ),
            (
                "observed in control",
                (version.bands.iter())
                    .map(|b| b.control_observed.unwrap_or(0.0))
                    .collect(),
            ),
        ],
        true,
    ));
    let rows: Vec<Vec<String>> = (version.bands.iter())
        .map(|b| {
            vec![
                b.band.clone(),
                b.contacts.to_string(),
                pct(b.predicted),
                pct(b.observed),
                b.control_contacts.to_string(),
                optional(b.control_observed, pct),
            ]
        })
        .collect();
    out.push_str(&table(
        &format!("campaign-{n}-bands-{v}"),
        &[
            "band",
            "contacts",
            "predicted",
            "observed",
            "control contacts",
            "observed in control",
        ],
        &rows,
    ));
    out
}

/// The bundle's uplift model: the learners compared and the chosen one's Qini curve on
/// the contacts held out from its fit.
fn uplift(model: &UpliftModel, campaign: Option<&str>) -> String {
    let mut out = String::from(r#"<div id="uplift"><h3>Uplift model</h3>"#);
    let _ = write!(
        out,
        "<p>{} chosen by Qini AUC on {} held-out contacts of {} ({} treated){}. Customers \
         ranked by predicted uplift, best first: the curve is the incremental responses \
         gained by each depth; the dashed line is random targeting.</p>",
        esc(model.learner.name()),
        model.held_out,
        model.contacts,
        model.treated,
        campaign.map_or(String::new(), |c| format!(
            ", learnt from campaign <code>{}</code>",
            esc(c)
        ))
    );
    let curve: Vec<(f64, f64)> = (model.qini.points.iter())
        .map(|p| (p.share, p.incremental))
        .collect();
    let total = curve.last().map_or(0.0, |p| p.1);
    out.push_str(&svg::lines(
        "Qini curve on held-out contacts",
        "share of customers targeted (highest uplift first)",
        "incremental responses",
        &[
            (
                format!(
                    "{} (Qini AUC {:.3})",
                    model.learner.name(),
                    model.qini.qini_auc
                ),
                curve,
            ),
            (
                "random targeting".to_string(),
                vec![(0.0, 0.0), (1.0, total)],
            ),
        ],
        false,
    ));
    let rows: Vec<Vec<String>> = (model.candidates.iter())
        .map(|c| {
            vec![
                c.learner.clone(),
                c.settings.clone(),
                format!("{:.4}", c.qini_auc),
                format!("{:.4}", c.auuc),
            ]
        })
        .collect();
    out.push_str(&table(
        "uplift-candidates",
        &["learner", "GBM settings", "Qini AUC", "AUUC"],
        &rows,
    ));
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcomes::store::ContactOutcome;
    use crate::outcomes::Arm;

    fn contacts() -> Vec<ContactOutcome> {
        (0..200)
            .map(|i| ContactOutcome {
                model_version: "v1".into(),
                arm: if i % 4 == 0 {
                    Arm::Control
                } else {
                    Arm::Treatment
                },
                churn_probability: Some(f64::from(i) / 200.0),
                risk_band: Some(if i < 100 { "low" } else { "high" }.into()),
                outcome: i % 3 == 0 || i > 150,
                value: if i % 3 == 0 { 20.0 } else { 0.0 },
            })
            .collect()
    }

    #[test]
    fn every_figure_of_the_evaluation_is_drawn() {
        let report = crate::outcomes::evaluate("spring <test>", "responded", &contacts());
        let html = campaign(1, &report, "v1");
        assert!(html.contains("spring &lt;test&gt;"), "names are escaped");
        for id in ["arms", "effect", "versions", "deciles-1", "bands-1"] {
            assert!(html.contains(&format!("id=\"campaign-1-{id}\"")), "{id}");
        }
        assert!(html.contains("v1 (this bundle)"));
        assert!(html.contains("aria-label=\"lift by decile, v1\""));
        assert!(html.contains("aria-label=\"responded rate by arm with 95% intervals\""));
        let auc = report.versions[0].auc.unwrap();
        assert!(html.contains(&format!("{auc:.3}")));
        let p = report.effect.p_value.unwrap();
        assert!(html.contains(&format!("p = {p:.4}")));
    }

    #[test]
    fn a_campaign_without_control_says_there_is_no_test() {
        let treated: Vec<ContactOutcome> = (contacts().into_iter())
            .filter(|c| c.arm == Arm::Treatment)
            .collect();
        let report = crate::outcomes::evaluate("c", "churned", &treated);
        let html = campaign(1, &report, "other");
        assert!(html.contains("no test"));
        assert!(!html.contains("(this bundle)"));
        assert!(!html.contains("NaN"));
    }
}
