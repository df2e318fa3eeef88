//! What a loaded bundle must mean, beyond matching its checksums: a hand-edited file
//! whose sha256 was updated, or a bug in training, must be refused here with the file
//! and the field named, never discovered by a panic or an endless loop while scoring.

use super::{corrupt, Bundle, BundleError, Schema, MANIFEST};
use super::{DRIFT, ENCODER, HISTORY, LIFETIME, PYRAMID, RETENTION, RFM, RULES, SEGMENTS, TREE};
use crate::config::MAX_CHURN_WINDOW_DAYS;
use crate::features::Encoding;
use crate::models::classifier::calibration::Calibrator;
use crate::models::classifier::flat_tree::FlatTree;
use crate::models::classifier::ChurnModel;
use crate::models::rules::CrossSellModel;
use crate::models::segment::ValuePyramid;
use crate::models::targets::{target_file, uses_inputs};
use crate::models::tree::ReadableTree;
use crate::monitoring::reference::Profile;
use crate::monitoring::DriftReference;
use std::collections::HashSet;
use std::path::Path;

/// A problem in one file: the field path and what is wrong with it. (Numbers parsed from
/// JSON are never NaN, so plain comparisons are enough.)
type Problem = (&'static str, String);

fn problem(
    file: &'static str,
    field: impl std::fmt::Display,
    what: impl std::fmt::Display,
) -> Problem {
    (file, format!("field `{field}`: {what}"))
}

/// Check every part of `bundle` (loaded from `dir`); the first problem found is the error.
pub(super) fn check(bundle: &Bundle, dir: &Path) -> Result<(), BundleError> {
    problems(bundle).map_err(|(file, reason)| corrupt(&dir.join(file), reason))?;
    targets(bundle).map_err(|(file, reason)| corrupt(&dir.join(file), reason))
}

/// The targets the manifest lists against the models present: one attrition target (its
/// model is retention.json), the others' files in the listed order, excluded inputs that
/// exist and that no model reads. The error is (file, what is wrong).
fn targets(b: &Bundle) -> Result<(), (String, String)> {
    let specs = &b.manifest.schema.targets;
    if specs.is_empty() {
        return Ok(()); // one target (or none), as format 1 had it
    }
    let in_manifest =
        |field: String, what: String| (MANIFEST.to_string(), format!("field `{field}`: {what}"));
    let attrition = specs.iter().filter(|t| t.attrition).count();
    if attrition != 1 || b.retention.is_none() {
        let what = format!(
            "{attrition} attrition targets with retention.json {}; expected 1 with it",
            if b.retention.is_some() {
                "present"
            } else {
                "absent"
            }
        );
        return Err(in_manifest("schema.targets".into(), what));
    }
    let others: Vec<_> = specs.iter().filter(|t| !t.attrition).collect();
    if others.len() != b.targets.len() {
        let what = format!(
            "{} targets besides the attrition one, {} target models",
            others.len(),
            b.targets.len()
        );
        return Err(in_manifest("schema.targets".into(), what));
    }
    let width = b.encoder.n_features();
    for (i, spec) in specs.iter().enumerate() {
        if specs[..i].iter().any(|t| t.name == spec.name) {
            return Err(in_manifest(
                format!("schema.targets[{i}].name"),
                format!("`{}` is listed twice", spec.name),
            ));
        }
        let mut excluded = Vec::new();
        for (j, column) in spec.excluded.iter().enumerate() {
            match b.encoder.input_index(column) {
                Some(at) => excluded.push(at),
                None => {
                    return Err(in_manifest(
                        format!("schema.targets[{i}].excluded[{j}]"),
                        format!("`{column}` is not an input column"),
                    ))
                }
            }
        }
        let (file, model) = match spec.attrition {
            true => (
                RETENTION.to_string(),
                b.retention.as_ref().map(|r| &r.model),
            ),
            false => {
                let file = target_file(&spec.name);
                let Some(t) = b.targets.iter().find(|t| t.name == spec.name) else {
                    return Err((
                        file,
                        format!("field `name`: no target model is named `{}`", spec.name),
                    ));
                };
                retention(b, &t.model, width).map_err(|(_, what)| (file.clone(), what))?;
                tree(&t.tree, width, b.segments.k()).map_err(|(_, what)| (file.clone(), what))?;
                (file, Some(&t.model.model))
            }
        };
        if model.is_some_and(|m| uses_inputs(m, &b.encoder, &excluded)) {
            let what = format!(
                "the model reads an input excluded from target `{}` ({})",
                spec.name,
                spec.excluded.join(", ")
            );
            return Err((file, format!("field `model`: {what}")));
        }
    }
    Ok(())
}

fn problems(b: &Bundle) -> Result<(), Problem> {
    manifest(b)?;
    encoder(b)?;
    let width = b.encoder.n_features();
    segments(b, width)?;
    if let Some(pyramid) = &b.pyramid {
        self::pyramid(b, pyramid)?;
    }
    if let Some(rules) = &b.rules {
        self::rules(b, rules)?;
    }
    if let Some(retention) = &b.retention {
        self::retention(b, retention, width)?;
    }
    if let Some(tree) = &b.tree {
        self::tree(tree, width, b.segments.k())?;
    }
    if let Some(reference) = &b.drift {
        drift(b, reference)?;
    }
    if let Some(model) = &b.lifetime {
        lifetime(b, model)?;
    }
    if let Some(model) = &b.rfm {
        rfm(b, model)?;
    }
    if let Some(history) = &b.history {
        let items = b.rules.as_ref().map_or(0, |r| r.items.len());
        if !history.is_consistent(items) {
            let what = format!("item ids must be sorted, below {items} (the rules' items), and `recent` within `bought`");
            return Err(problem(HISTORY, "customers", what));
        }
    }
    if let Some(model) = &b.uplift {
        uplift(model, width)?;
    }
    if let Some(actions) = &b.actions {
        // Targets and columns an action reads must be this bundle's.
        crate::decisions::Decider::for_bundle(actions.clone(), b)
            .map_err(|e| (super::ACTIONS, e.to_string()))?;
    }
    Ok(())
}

/// The uplift learner's trees stay within the encoder's width and its blend weight is a
/// share.
fn uplift(m: &crate::models::uplift::UpliftModel, width: usize) -> Result<(), Problem> {
    use crate::bundle::UPLIFT;
    for (path, gbm) in m.learner.models() {
        for (t, tree) in gbm.trees().iter().enumerate() {
            flat_tree(tree, width)
                .map_err(|(f, w)| problem(UPLIFT, format!("learner.{path}.trees[{t}].{f}"), w))?;
        }
    }
    for (path, treated_share) in m.learner.treated_shares() {
        if !(0.0..=1.0).contains(&treated_share) {
            return Err(problem(
                UPLIFT,
                format!("learner.{path}"),
                format!("{treated_share} is not a share between 0 and 1"),
            ));
        }
    }
    Ok(())
}

/// The RFM model: finite, ordered edges and its inputs among the encoder's.
fn rfm(b: &Bundle, m: &crate::models::rfm::RfmModel) -> Result<(), Problem> {
    if let Some(x) = m.figures().find(|x| !x.is_finite()) {
        return Err(problem(RFM, "edges", format!("{x} is not a finite number")));
    }
    let edges = [
        ("recency_edges", &m.recency_edges),
        ("frequency_edges", &m.frequency_edges),
        ("monetary_edges", &m.monetary_edges),
    ];
    for (field, edges) in edges {
        if edges.windows(2).any(|w| w[0] > w[1]) {
            return Err(problem(RFM, field, "must not decrease"));
        }
    }
    for name in crate::models::rfm::RFM_INPUTS {
        if b.encoder.input_index(name).is_none() {
            let what = format!("its input `{name}` is not an input of the encoder");
            return Err(problem(RFM, "recency_edges", what));
        }
    }
    Ok(())
}

/// Longest lifetime-value horizon a bundle may ask for (a century of months).
const MAX_CLV_MONTHS: u32 = 1_200;

/// The lifetime models: positive parameters, settings the answers can be computed with,
/// and the summary columns among the encoder's inputs.
fn lifetime(b: &Bundle, m: &crate::models::lifetime::LifetimeModel) -> Result<(), Problem> {
    lifetime_figures(m)?;
    for name in crate::data::transactions::LIFETIME_INPUTS {
        if b.encoder.input_index(name).is_none() {
            let what = format!("its input `{name}` is not an input of the encoder");
            return Err(problem(LIFETIME, "bgnbd", what));
        }
    }
    Ok(())
}

fn lifetime_figures(m: &crate::models::lifetime::LifetimeModel) -> Result<(), Problem> {
    let g = m.gamma_gamma;
    let positive = [
        ("bgnbd.r", m.bgnbd.r),
        ("bgnbd.alpha", m.bgnbd.alpha),
        ("bgnbd.a", m.bgnbd.a),
        ("bgnbd.b", m.bgnbd.b),
        ("gamma_gamma.p", g.map_or(1.0, |g| g.p)),
        ("gamma_gamma.q", g.map_or(1.0, |g| g.q)),
        ("gamma_gamma.v", g.map_or(1.0, |g| g.v)),
        ("settings.unit_days", m.settings.unit_days),
        ("settings.horizon_days", f64::from(m.settings.horizon_days)),
    ];
    for (field, value) in positive {
        if value <= 0.0 {
            return Err(problem(LIFETIME, field, format!("{value} must be above 0")));
        }
    }
    if m.settings.monthly_discount <= -1.0 {
        let rate = m.settings.monthly_discount;
        return Err(problem(
            LIFETIME,
            "settings.monthly_discount",
            format!("{rate} must be above -1"),
        ));
    }
    if m.settings.clv_months > MAX_CLV_MONTHS {
        let months = m.settings.clv_months;
        return Err(problem(
            LIFETIME,
            "settings.clv_months",
            format!("{months} is more than {MAX_CLV_MONTHS}"),
        ));
    }
    candidates(m)
}

/// Every candidate's parameters positive, and `chosen` one of them.
fn candidates(m: &crate::models::lifetime::LifetimeModel) -> Result<(), Problem> {
    for (i, c) in m.candidates.iter().enumerate() {
        for (name, value) in c.model.parameters() {
            if value <= 0.0 {
                let field = format!("candidates[{i}].model.{name}");
                return Err(problem(LIFETIME, field, format!("{value} must be above 0")));
            }
        }
    }
    if !m.candidates.is_empty() && m.chosen >= m.candidates.len() {
        let what = format!(
            "{} is not one of the {} candidates",
            m.chosen,
            m.candidates.len()
        );
        return Err(problem(LIFETIME, "chosen", what));
    }
    Ok(())
}

/// The drift profile: every input one the encoder has, bins and shares that pair up,
/// edges and categories in the order the lookups (partition point, binary search) need.
fn drift(b: &Bundle, r: &DriftReference) -> Result<(), Problem> {
    let inputs: HashSet<&str> = b.encoder.inputs.iter().map(|i| i.name.as_str()).collect();
    for (i, input) in r.inputs.iter().enumerate() {
        let at = format!("inputs[{i}]");
        if !inputs.contains(input.name.as_str()) {
            return Err(problem(
                DRIFT,
                &at,
                format!("`{}` is not an input of the encoder", input.name),
            ));
        }
        match &input.profile {
            Profile::Numeric(p) => {
                let why = bins_problem(&p.edges, &p.shares, p.edges.len() + 1);
                why.map_or(Ok(()), |why| Err(problem(DRIFT, &at, why)))?
            }
            Profile::Categorical(p) => {
                if !p.categories.windows(2).all(|w| w[0] < w[1]) {
                    return Err(problem(
                        DRIFT,
                        &at,
                        "categories are not sorted and distinct",
                    ));
                }
                let why = bins_problem(&[], &p.shares, p.categories.len());
                why.map_or(Ok(()), |why| Err(problem(DRIFT, &at, why)))?
            }
        }
    }
    if let Some(p) = &r.churn_probability {
        if let Some(why) = bins_problem(&p.edges, &p.shares, p.edges.len() + 1) {
            return Err(problem(DRIFT, "churn_probability", why));
        }
    }
    if !r.segments.is_empty() && r.segments.len() != b.segments.k() {
        return Err(problem(
            DRIFT,
            "segments",
            format!(
                "{} shares for {} segments",
                r.segments.len(),
                b.segments.k()
            ),
        ));
    }
    Ok(())
}

fn bins_problem(edges: &[f64], shares: &[f64], bins: usize) -> Option<String> {
    if shares.len() != bins {
        return Some(format!("{} shares for {bins} bins", shares.len()));
    }
    if !edges.windows(2).all(|w| w[0] < w[1]) {
        return Some("bin edges are not increasing".into());
    }
    if shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
        return Some("a share outside 0..1".into());
    }
    None
}

fn manifest(b: &Bundle) -> Result<(), Problem> {
    if let Some(log) = &b.manifest.transactions {
        let days = log.spec.churn_after_days;
        if !(1..=MAX_CHURN_WINDOW_DAYS).contains(&days) {
            return Err(problem(
                MANIFEST,
                "transactions.spec.churn_after_days",
                format!("{days} is outside 1..={MAX_CHURN_WINDOW_DAYS}"),
            ));
        }
    }
    Ok(())
}

fn encoder(b: &Bundle) -> Result<(), Problem> {
    let mut names = HashSet::new();
    for (i, input) in b.encoder.inputs.iter().enumerate() {
        if !names.insert(input.name.as_str()) {
            return Err(problem(
                ENCODER,
                format!("inputs[{i}].name"),
                format!("column `{}` appears twice", input.name),
            ));
        }
        if let Encoding::Numeric {
            median,
            mean,
            std,
            range,
            ..
        } = &input.encoding
        {
            let field = |f: &str| format!("inputs[{i}].encoding.{f}");
            if !(std.is_finite() && *std > 0.0) {
                return Err(problem(
                    ENCODER,
                    field("std"),
                    format!("{std} is not a positive number"),
                ));
            }
            for (name, v) in [("mean", mean), ("median", median)] {
                if !v.is_finite() {
                    return Err(problem(ENCODER, field(name), format!("{v} is not finite")));
                }
            }
            if let Some([low, high]) = range {
                if !(low.is_finite() && high.is_finite() && low <= high) {
                    return Err(problem(
                        ENCODER,
                        field("range"),
                        format!("[{low}, {high}] is not a range"),
                    ));
                }
            }
        }
    }
    let m = &b.manifest.schema;
    let expected = Schema::from_encoder(
        &b.encoder,
        m.id.clone(),
        m.label.clone(),
        m.value.clone(),
        m.dropped.clone(),
    );
    if expected.columns != m.columns {
        return Err(problem(
            ENCODER,
            "inputs",
            "encoder columns do not match the manifest's schema.columns",
        ));
    }
    Ok(())
}

fn segments(b: &Bundle, width: usize) -> Result<(), Problem> {
    let s = &b.segments;
    if s.centroids.is_empty() {
        return Err(problem(SEGMENTS, "centroids", "no segments"));
    }
    if let Some((i, c)) = s
        .centroids
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() != width)
    {
        return Err(problem(
            SEGMENTS,
            format!("centroids[{i}]"),
            format!(
                "has {} numbers, the encoder makes {width} features",
                c.len()
            ),
        ));
    }
    if let Some((i, slot)) = s.slots.iter().enumerate().find(|(_, &j)| j >= width) {
        return Err(problem(
            SEGMENTS,
            format!("slots[{i}]"),
            format!("feature {slot}, the encoder makes {width} features"),
        ));
    }
    if s.profiles.len() != s.centroids.len() {
        return Err(problem(
            SEGMENTS,
            "profiles",
            format!(
                "{} profiles for {} centroids",
                s.profiles.len(),
                s.centroids.len()
            ),
        ));
    }
    if let Some((i, p)) = s.profiles.iter().enumerate().find(|(i, p)| p.id != *i) {
        return Err(problem(
            SEGMENTS,
            format!("profiles[{i}].id"),
            format!("is {}, expected {i}", p.id),
        ));
    }
    Ok(())
}

fn pyramid(b: &Bundle, p: &ValuePyramid) -> Result<(), Problem> {
    let Some(last) = p.tiers.len().checked_sub(1) else {
        return Err(problem(PYRAMID, "tiers", "no tiers"));
    };
    let mut previous = f64::INFINITY;
    for (i, tier) in p.tiers.iter().enumerate() {
        let field = format!("tiers[{i}].min_value");
        match (tier.min_value, i == last) {
            (None, true) => {}
            (Some(_), true) => return Err(problem(PYRAMID, field, "the last tier must have none")),
            (None, false) => {
                return Err(problem(PYRAMID, field, "only the last tier may have none"))
            }
            (Some(v), false) if v > previous => {
                return Err(problem(
                    PYRAMID,
                    field,
                    format!("{v} is above the tier before it"),
                ))
            }
            (Some(v), false) => previous = v,
        }
    }
    if let Some(profit) = &p.profit {
        // A cost model the Scorer cannot read would silently score no contribution.
        let cost = (profit.cost.params().check(&b.encoder))
            .map_err(|e| problem(PYRAMID, "profit.cost", e))?;
        if cost.inputs(&b.encoder, &p.column).is_none() {
            return Err(problem(
                PYRAMID,
                "profit.cost",
                "needs columns the bundle does not read",
            ));
        }
    }
    match &b.manifest.schema.value {
        Some(value) if &p.column == value && b.encoder.input_index(value).is_some() => Ok(()),
        _ => Err(problem(
            PYRAMID,
            "column",
            format!(
                "value column `{}` is not the bundle's input value column",
                p.column
            ),
        )),
    }
}

fn rules(b: &Bundle, r: &CrossSellModel) -> Result<(), Problem> {
    let n = r.items.len();
    if r.item_counts.len() != n {
        return Err(problem(
            RULES,
            "item_counts",
            format!("{} counts for {n} items", r.item_counts.len()),
        ));
    }
    let out_of_range = |id: u32| id as usize >= n;
    if let Some((i, &id)) = r
        .popular
        .iter()
        .enumerate()
        .find(|(_, &id)| out_of_range(id))
    {
        return Err(problem(
            RULES,
            format!("popular[{i}]"),
            format!("item {id} of {n}"),
        ));
    }
    for (i, rule) in r.rules.iter().enumerate() {
        if out_of_range(rule.consequent) {
            return Err(problem(
                RULES,
                format!("rules[{i}].consequent"),
                format!("item {} of {n}", rule.consequent),
            ));
        }
        let field = format!("rules[{i}].antecedent");
        if rule.antecedent.is_empty() {
            return Err(problem(RULES, field, "is empty"));
        }
        if let Some(&id) = rule.antecedent.iter().find(|&&id| out_of_range(id)) {
            return Err(problem(RULES, field, format!("item {id} of {n}")));
        }
        if !rule.antecedent.windows(2).all(|w| w[0] < w[1]) {
            return Err(problem(
                RULES,
                field,
                "item ids are not strictly increasing",
            ));
        }
    }
    if let Some((i, h)) = r
        .holdings
        .iter()
        .enumerate()
        .find(|(_, h)| b.encoder.input_index(h).is_none())
    {
        return Err(problem(
            RULES,
            format!("holdings[{i}]"),
            format!("`{h}` is not an input column"),
        ));
    }
    Ok(())
}

fn retention(
    b: &Bundle,
    r: &crate::models::classifier::RetentionModel,
    width: usize,
) -> Result<(), Problem> {
    match &r.model {
        ChurnModel::Logistic(m) => {
            for (name, len) in [("weights", m.weights.len()), ("means", m.means.len())] {
                if len != width {
                    return Err(problem(
                        RETENTION,
                        format!("model.{name}"),
                        format!("has {len} numbers, the encoder makes {width} features"),
                    ));
                }
            }
        }
        ChurnModel::DecisionTree { tree } => flat_tree(tree, width)
            .map_err(|(f, w)| problem(RETENTION, format!("model.tree.{f}"), w))?,
        ChurnModel::Gbm(m) => {
            for (t, tree) in m.trees().iter().enumerate() {
                flat_tree(tree, width)
                    .map_err(|(f, w)| problem(RETENTION, format!("model.trees[{t}].{f}"), w))?;
            }
        }
    }
    if let Calibrator::Isotonic { x, y } = &r.calibrator {
        if x.len() != y.len() {
            return Err(problem(
                RETENTION,
                "calibrator.y",
                format!("has {} points, calibrator.x has {}", y.len(), x.len()),
            ));
        }
        if let Some(i) = (1..x.len()).find(|&i| x[i - 1] > x[i]) {
            return Err(problem(
                RETENTION,
                format!("calibrator.x[{i}]"),
                "is below the point before it",
            ));
        }
        if let Some(i) = y.iter().position(|p| !(0.0..=1.0).contains(p)) {
            return Err(problem(
                RETENTION,
                format!("calibrator.y[{i}]"),
                "is not a probability",
            ));
        }
    }
    let [medium, high] = r.bands;
    if !(0.0 < medium && medium <= high && high < 1.0) {
        return Err(problem(
            RETENTION,
            "bands",
            format!("[{medium}, {high}] must satisfy 0 < medium ≤ high < 1"),
        ));
    }
    if let Some(value) = &r.value {
        let s = &value.settings;
        let ranks_by_contribution = (b.pyramid.as_ref())
            .and_then(|p| p.profit.as_ref())
            .is_some_and(|p| {
                p.cost.basis() == crate::models::contribution::ValueBasis::Contribution
            });
        if value.basis == crate::models::value::ClvBasis::Contribution && !ranks_by_contribution {
            return Err(problem(
                RETENTION,
                "value.basis",
                "contribution needs a cost model ranking by contribution in pyramid.json",
            ));
        }
        let columns = [
            ("value.settings.margin", Some(&s.margin)),
            ("value.current_value", value.current_value.as_ref()),
        ];
        for (field, column) in columns {
            if let Some(c) = column.filter(|c| b.encoder.input_index(c).is_none()) {
                return Err(problem(
                    RETENTION,
                    field,
                    format!("`{c}` is not an input column"),
                ));
            }
        }
        let positive = [
            ("periods_per_year", s.periods_per_year),
            ("horizon_years", s.horizon_years),
            ("label_period_years", s.label_period_years),
        ];
        for (name, v) in positive {
            if v <= 0.0 {
                return Err(problem(
                    RETENTION,
                    format!("value.settings.{name}"),
                    format!("{v} is not positive"),
                ));
            }
        }
        if s.discount_rate < 0.0 {
            return Err(problem(
                RETENTION,
                "value.settings.discount_rate",
                format!("{} is negative", s.discount_rate),
            ));
        }
    }
    Ok(())
}

fn tree(t: &ReadableTree, width: usize, k: usize) -> Result<(), Problem> {
    flat_tree(&t.tree, width).map_err(|(f, w)| problem(TREE, format!("tree.{f}"), w))?;
    let n = t.tree.nodes.len();
    for (i, rule) in t.rules.iter().enumerate() {
        if t.tree
            .nodes
            .get(rule.leaf as usize)
            .is_none_or(|node| !node.is_leaf())
        {
            return Err(problem(
                TREE,
                format!("rules[{i}].leaf"),
                format!("node {} of {n} is not a leaf", rule.leaf),
            ));
        }
    }
    for (i, link) in t.segments.iter().enumerate() {
        if link.segment >= k {
            return Err(problem(
                TREE,
                format!("segments[{i}].segment"),
                format!("segment {} of {k}", link.segment),
            ));
        }
        if link.rule >= t.rules.len() {
            return Err(problem(
                TREE,
                format!("segments[{i}].rule"),
                format!("rule {} of {}", link.rule, t.rules.len()),
            ));
        }
    }
    Ok(())
}

/// Node indices in range, children after their parent (so no path loops), split features
/// within the encoder's width. The error is (field path within the tree, what is wrong).
fn flat_tree(tree: &FlatTree, width: usize) -> Result<(), (String, String)> {
    let n = tree.nodes.len();
    if n == 0 {
        return Err(("nodes".into(), "the tree has no nodes".into()));
    }
    for (i, node) in tree
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| !node.is_leaf())
    {
        if node.feature as usize >= width {
            return Err((
                format!("nodes[{i}].feature"),
                format!(
                    "{} is not below the encoder's {width} features",
                    node.feature
                ),
            ));
        }
        for (side, child) in [("left", node.left), ("right", node.right)] {
            let child = child as usize;
            if child <= i || child >= n {
                return Err((
                    format!("nodes[{i}].{side}"),
                    format!("{child} must be a later node (after {i}, below {n}): a path could loop or leave the tree"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::classifier::flat_tree::Node;

    fn split(feature: u32, left: u32, right: u32) -> Node {
        Node {
            feature,
            threshold: 0.0,
            left,
            right,
            value: 0.0,
            cover: 0.0,
        }
    }

    #[test]
    fn lifetime_parameters_and_settings_out_of_range_are_named() {
        use crate::models::lifetime::{BgNbd, FitReport, LifetimeModel, LifetimeSettings};
        let good = LifetimeModel {
            bgnbd: BgNbd {
                r: 0.24,
                alpha: 4.4,
                a: 0.79,
                b: 2.4,
            },
            bgnbd_fit: FitReport {
                customers: 10,
                left_out: 0,
                mean_log_likelihood: -2.6,
                iterations: 20,
            },
            gamma_gamma: None,
            gamma_gamma_fit: None,
            settings: LifetimeSettings::default(),
            candidates: Vec::new(),
            chosen: 0,
        };
        assert_eq!(lifetime_figures(&good), Ok(()));
        let mut nowhere = good.clone();
        nowhere.candidates.push(crate::models::lifetime::Candidate {
            model: crate::models::lifetime::PurchaseModel::BgNbd(good.bgnbd),
            fit: good.bgnbd_fit.clone(),
            holdout: None,
        });
        assert_eq!(lifetime_figures(&nowhere), Ok(()));
        nowhere.chosen = 1;
        assert!(lifetime_figures(&nowhere).unwrap_err().1.contains("chosen"));
        let mut zero_a = good.clone();
        zero_a.bgnbd.a = 0.0;
        assert!(lifetime_figures(&zero_a).unwrap_err().1.contains("bgnbd.a"));
        let mut endless = good.clone();
        endless.settings.clv_months = 1_000_000;
        assert!(lifetime_figures(&endless)
            .unwrap_err()
            .1
            .contains("clv_months"));
        let mut rate = good;
        rate.settings.monthly_discount = -1.0;
        assert!(lifetime_figures(&rate)
            .unwrap_err()
            .1
            .contains("monthly_discount"));
    }

    #[test]
    fn trees_that_loop_or_leave_are_refused() {
        let good = FlatTree {
            nodes: vec![split(0, 1, 2), Node::leaf(1.0), Node::leaf(2.0)],
        };
        assert_eq!(flat_tree(&good, 1), Ok(()));
        let looping = FlatTree {
            nodes: vec![split(0, 1, 2), split(0, 0, 2), Node::leaf(2.0)],
        };
        assert_eq!(flat_tree(&looping, 1).unwrap_err().0, "nodes[1].left");
        let outside = FlatTree {
            nodes: vec![split(0, 1, 9), Node::leaf(1.0)],
        };
        assert_eq!(flat_tree(&outside, 1).unwrap_err().0, "nodes[0].right");
        assert_eq!(flat_tree(&good, 0).unwrap_err().0, "nodes[0].feature");
        assert_eq!(flat_tree(&FlatTree::default(), 1).unwrap_err().0, "nodes");
    }
}
