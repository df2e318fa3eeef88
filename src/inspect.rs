//! Plain-text views of a bundle for the terminal (`train` and `inspect`).

use crate::bundle::Bundle;
use crate::models::segment::{SegmentModel, SegmentProfile, ValuePyramid, UNSTABLE_ARI};
use std::fmt::Write;

/// What `train` prints when it finishes.
pub fn training_summary(bundle: &Bundle) -> String {
    let mut out = log_section(bundle);
    let training = &bundle.manifest.training;
    if let Some(total) = training.sampled_from {
        let kind = match bundle.manifest.schema.label {
            Some(_) => "stratified",
            None => "uniform",
        };
        let _ = writeln!(
            out,
            "trained on a {kind} sample of {} of {total} customers",
            training.rows
        );
    }
    let _ = writeln!(out, "data quality: {}", bundle.quality);
    out.push_str(&segments_section(bundle));
    if let Some(p) = &bundle.pyramid {
        out.push_str(&pyramid_section(p));
        out.push_str(&crate::inspect_profit::profit_section(p));
    }
    out.push_str(&rules_section(bundle, 5));
    out.push_str(&crate::inspect_retention::retention_section(bundle));
    out.push_str(&targets_section(bundle, 0));
    out.push_str(&lifetime_section(bundle));
    if let Some(uplift) = &bundle.uplift {
        out.push('\n');
        out.push_str(&uplift.describe());
    }
    out.push_str(&actions_section(bundle));
    out
}

/// The actions the bundle keeps, and which read the uplift.
fn actions_section(bundle: &Bundle) -> String {
    let Some(actions) = &bundle.actions else {
        return String::new();
    };
    let decider = crate::decisions::Decider::for_bundle(actions.clone(), bundle);
    let mut out = String::from("\nactions (used when no --actions file is given):\n");
    for action in decider
        .as_ref()
        .map_or(&actions.actions, |d| &d.actions().actions)
    {
        let uplift = match &action.uplift_campaign {
            Some(c) => format!(" (works with the uplift of campaign {c})"),
            None => String::new(),
        };
        let _ = writeln!(out, "  {}: {}{uplift}", action.name, action.kind_name());
    }
    out
}

/// The targets besides the attrition one: label, chosen model and its cross-validated
/// AUC, rate, calibration, the strongest single input, what was excluded, and the
/// `rules` leaves of each readable tree with the highest rate.
fn targets_section(bundle: &Bundle, rules: usize) -> String {
    let schema = &bundle.manifest.schema;
    let others: Vec<_> = schema.targets.iter().filter(|t| !t.attrition).collect();
    if others.is_empty() {
        return String::new();
    }
    let attrition = schema.targets.iter().find(|t| t.attrition);
    let mut out = format!(
        "
targets besides the attrition target `{}` (which lifetime value uses):
",
        attrition.map_or("-", |t| t.name.as_str())
    );
    for spec in others {
        let metrics = bundle.manifest.metrics.targets.get(&spec.name);
        let fit = metrics.map(|m| &m.fit);
        let cv = fit.and_then(|f| f.chosen_candidate());
        let _ = writeln!(
            out,
            "  {} ({} = {}): {} CV AUC {} on {} rows, {:.1}% positive, ECE {}",
            spec.name,
            spec.label.column,
            spec.label.positive,
            fit.map_or("-", |f| f.chosen.as_str()),
            cv.map_or("-".into(), |c| format!("{:.4} ± {:.4}", c.auc, c.auc_std)),
            fit.map_or(0, |f| f.labeled_rows),
            100.0 * fit.map_or(0.0, |f| f.churn_rate),
            fit.map_or("-".into(), |f| format!("{:.4}", f.ece)),
        );
        if let Some((column, auc)) =
            metrics.and_then(|m| m.strongest_input.as_ref().zip(m.strongest_input_auc))
        {
            let _ = writeln!(out, "    strongest single input: {column} (AUC {auc:.4})");
        }
        if !spec.excluded.is_empty() {
            let _ = writeln!(out, "    excluded inputs: {}", spec.excluded.join(", "));
        }
        let tree = bundle
            .targets
            .iter()
            .find(|t| t.name == spec.name)
            .map(|t| &t.tree);
        for rule in tree.iter().flat_map(|t| t.rules.iter().take(rules)) {
            let sentence =
                rule.sentence()
                    .replacen(" THEN churn ", &format!(" THEN {} ", spec.name), 1);
            let _ = writeln!(out, "    {sentence}");
        }
    }
    out
}

/// The lifetime models' parameters and what the answers cover.
fn lifetime_section(bundle: &Bundle) -> String {
    let Some(model) = &bundle.lifetime else {
        return String::new();
    };
    let s = &model.settings;
    format!(
        "\nlifetime value (fitted on purchases before the cut-off): expected purchases over {} days, CLV over {} months at {}% a month\n{}",
        s.horizon_days,
        s.clv_months,
        100.0 * s.monthly_discount,
        crate::lifetime_cli::describe(model)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::BundleError),
    #[error(transparent)]
    NoTree(#[from] NoTree),
}

/// `custscore inspect`: the bundle described, or with `--tree` the decision tree's rules.
pub fn run_inspect(args: &crate::cli::InspectArgs) -> Result<String, InspectError> {
    let bundle = Bundle::load(&args.models.models, args.model_version.as_deref())?;
    if args.tree {
        return Ok(tree_rules(&bundle)?);
    }
    Ok(describe(&bundle))
}

/// Everything `inspect` shows.
pub fn describe(bundle: &Bundle) -> String {
    let m = &bundle.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "bundle {} (format {}, custscore {})",
        m.version, m.format_version, m.custscore_version
    );
    let _ = writeln!(out, "created {}", m.created);
    let sampled = match m.training.sampled_from {
        Some(total) => format!(" sampled of {total}"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "trained on {} ({} rows{sampled}, sha256 {})",
        m.training.source, m.training.rows, m.training.sha256
    );
    let used = m.schema.columns.iter().filter(|c| c.used).count();
    let _ = writeln!(
        out,
        "inputs: {} columns ({} used by the models), {} features",
        m.schema.columns.len(),
        used,
        bundle.encoder.n_features()
    );
    if let Some(label) = &m.schema.label {
        let _ = writeln!(out, "label: {} = {}", label.column, label.positive);
    }
    for t in m.schema.targets.iter().filter(|t| !t.attrition) {
        let _ = writeln!(out, "target: {} = {}", t.label.column, t.label.positive);
    }
    let _ = writeln!(
        out,
        "columns of header-less input (score --columns-from-bundle): {}",
        crate::batch_input::bundle_columns(bundle).join(",")
    );
    out.push('\n');
    out.push_str(&log_section(bundle));
    let _ = writeln!(out, "data quality: {}", bundle.quality);
    out.push_str(&segments_section(bundle));
    for profile in &bundle.segments.profiles {
        out.push_str(&profile_detail(profile));
    }
    if let Some(p) = &bundle.pyramid {
        out.push_str(&pyramid_section(p));
        out.push_str(&crate::inspect_profit::profit_section(p));
    }
    out.push_str(&cube_section(&bundle.segments));
    out.push_str(&crate::inspect_retention::retention_section(bundle));
    out.push_str(&crate::inspect_retention::value_section(bundle));
    out.push_str(&targets_section(bundle, 3));
    out.push_str(&lifetime_section(bundle));
    if let Some(history) = &bundle.history {
        out.push_str(&history.describe());
    }
    if let Some(uplift) = &bundle.uplift {
        out.push('\n');
        out.push_str(&uplift.describe());
    }
    if let Some(rfm) = &bundle.rfm {
        out.push_str(&rfm.describe());
    }
    out.push_str(&actions_section(bundle));
    if let Ok(rules) = tree_rules(bundle) {
        out.push_str("\ndecision tree (if-then rules):\n");
        out.push_str(&rules);
    }
    out.push_str(&rules_section(bundle, 15));
    out
}

/// The cross-sell rules: how many, how well they rank held-out products, the strongest.
fn rules_section(bundle: &Bundle, top: usize) -> String {
    let Some(model) = &bundle.rules else {
        return String::new();
    };
    let mut out = format!(
        "\ncross-sell rules: {} from {} itemsets over {} products in {} baskets \
         (min support {}, min confidence {}, min lift {})\n",
        model.rules.len(),
        model.itemsets,
        model.popular.len(),
        model.baskets,
        model.params.min_support,
        model.params.min_confidence,
        model.params.min_lift
    );
    if let Some(m) = &bundle.manifest.metrics.cross_sell {
        let _ = writeln!(out, "  {}", m.hit_rate);
    }
    for rule in model.rules.iter().take(top) {
        let _ = writeln!(out, "  {}", model.describe(rule));
    }
    out
}

pub use crate::inspect_retention::{tree_rules, NoTree};

fn segments_section(bundle: &Bundle) -> String {
    let s = &bundle.segments;
    let mut out = String::new();
    let how = match s.k_scores.iter().find(|k| k.k == s.k()) {
        Some(k) => format!(
            "chosen over k={}..{}, silhouette {:.3}",
            s.k_scores.first().map_or(0, |k| k.k),
            s.k_scores.last().map_or(0, |k| k.k),
            k.silhouette,
        ),
        None => "fixed by configuration".to_string(),
    };
    let _ = writeln!(
        out,
        "\nsegments: {} ({how}), inertia {:.1}",
        s.k(),
        s.inertia
    );
    out.push_str(&k_table(s));
    if !s.segment_on.is_empty() {
        let _ = writeln!(out, "  clustered on: {}", s.segment_on.join(", "));
    }
    if let Some(version) = &s.ids_from {
        let _ = writeln!(out, "  ids of matching segments kept from {version}");
    }
    out.push_str(&stability_lines(s));
    let _ = writeln!(
        out,
        "  {:>3}  {:>6}  {:>6}  {:>7}  {:>6}  {:>8}  name",
        "id", "size", "share", "value", "churn", "together"
    );
    for p in &s.profiles {
        let together = (s.stability.as_ref())
            .and_then(|st| st.together.get(p.id))
            .map_or("-".into(), |t| format!("{:.0}%", 100.0 * t));
        let _ = writeln!(
            out,
            "  {:>3}  {:>6}  {:>5.1}%  {:>7}  {:>6}  {:>8}  {}",
            p.id,
            p.size,
            100.0 * p.share,
            p.value_share
                .map_or("-".into(), |v| format!("{:.1}%", 100.0 * v)),
            p.churn_rate
                .map_or("-".into(), |v| format!("{:.1}%", 100.0 * v)),
            together,
            p.name
        );
    }
    out
}

/// Every k tried, with its figures and verdict, then why the chosen one won.
fn k_table(s: &SegmentModel) -> String {
    if s.k_scores.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "  {:>3}  {:>10}  {:>12}  {:>8}  verdict\n",
        "k", "silhouette", "inertia", "smallest"
    );
    for k in &s.k_scores {
        let _ = writeln!(
            out,
            "  {:>3}  {:>10.3}  {:>12.1}  {:>8}  {}",
            k.k,
            k.silhouette,
            k.inertia,
            k.smallest_share
                .map_or("-".into(), |m| format!("{:.1}%", 100.0 * m)),
            k.verdict
        );
    }
    if !s.k_reason.is_empty() {
        let _ = writeln!(out, "  why: {}", s.k_reason);
    }
    out
}

fn stability_lines(s: &SegmentModel) -> String {
    let Some(st) = &s.stability else {
        return String::new();
    };
    let aris: Vec<String> = st.ari.iter().map(|a| format!("{a:.3}")).collect();
    let mut out = format!(
        "  stability: mean adjusted Rand index {:.3} over {} bootstrap refits ({})\n",
        st.mean_ari,
        st.resamples,
        aris.join(", ")
    );
    if st.is_unstable() {
        let _ = writeln!(
            out,
            "  warning: segments are unstable (mean adjusted Rand index below {UNSTABLE_ARI}): \
             another extract may give different segments; try fewer segments or --segment-on"
        );
    }
    out
}

/// Segment × value tier × value quadrant: customers, value and churn rate per cell.
fn cube_section(s: &SegmentModel) -> String {
    if s.cube.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nvalue cube (segment × tier × quadrant, training customers):\n");
    let _ = writeln!(
        out,
        "  {:>7}  {:<10} {:<9} {:>9}  {:>14}  {:>6}",
        "segment", "tier", "quadrant", "customers", "value", "churn"
    );
    for c in &s.cube {
        let _ = writeln!(
            out,
            "  {:>7}  {:<10} {:<9} {:>9}  {:>14.2}  {:>6}",
            c.segment,
            c.tier,
            c.quadrant,
            c.customers,
            c.value,
            c.churn_rate
                .map_or("-".into(), |r| format!("{:.1}%", 100.0 * r))
        );
    }
    out
}

fn profile_detail(p: &SegmentProfile) -> String {
    let mut out = format!("\nsegment {}: {}\n", p.id, p.name);
    for d in &p.distinguishing {
        let _ = writeln!(
            out,
            "  sets it apart: {} (score {:+.2})",
            d.description, d.score
        );
    }
    for n in &p.numeric {
        let _ = writeln!(
            out,
            "  {:<24} mean {:>10}  median {:>10}  (all customers: mean {:.2})",
            n.column,
            n.mean.map_or("-".into(), |m| format!("{m:.2}")),
            n.median.map_or("-".into(), |m| format!("{m:.2}")),
            n.overall_mean
        );
    }
    for c in &p.categorical {
        let top: Vec<String> = c
            .top
            .iter()
            .map(|s| {
                format!(
                    "{} {:.0}% (all {:.0}%)",
                    s.value,
                    100.0 * s.share,
                    100.0 * s.overall_share
                )
            })
            .collect();
        let _ = writeln!(out, "  {:<24} {}", c.column, top.join(", "));
    }
    out
}

fn pyramid_section(p: &ValuePyramid) -> String {
    let mut out = format!(
        "\nvalue pyramid by {} (total {:.2}{}):\n",
        p.column,
        p.total_value,
        if p.unranked > 0 {
            format!(", {} customers without a value", p.unranked)
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "  {:<10} {:>9}  {:>8}  {:>10}  {:>12}",
        "tier", "customers", "share", "value share", "min value"
    );
    let mut cumulative = 0.0;
    for t in &p.tiers {
        cumulative += t.value_share;
        let min = match t.min_value {
            Some(v) if v < f64::MAX => format!("{v:.2}"),
            Some(_) => "(empty)".into(),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "  {:<10} {:>9}  {:>7.1}%  {:>10.1}%  {:>12}   (top tiers so far hold {:.1}% of value)",
            t.name,
            t.customers,
            100.0 * t.customer_share,
            100.0 * t.value_share,
            min,
            100.0 * cumulative
        );
    }
    out
}

fn log_section(bundle: &Bundle) -> String {
    let Some(log) = &bundle.manifest.transactions else {
        return String::new();
    };
    let mut out = String::new();
    for line in log.quality.findings() {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "churn label: no purchase in the {} days after {}",
        log.spec.churn_after_days, log.cutoff
    );
    out
}
