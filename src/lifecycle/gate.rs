//! The promotion gate: a challenger becomes CURRENT only if, on the same labelled
//! holdout scored through the one Scorer, its AUC is not worse than the champion's by
//! more than a tolerance, its calibration error is under a bound, and it can score what
//! the champion scored. The decision, both sides' figures and the reasons are kept in the
//! challenger's folder as `gate.json`.

use super::error::LifecycleError;
use crate::bundle::{Bundle, Schema};
use crate::features::row_values;
use crate::models::classifier::cv::{auc, ece, reliability};
use crate::score::Scorer;
use crate::train::Holdout;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

pub const GATE_FILE: &str = "gate.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PromoteMode {
    /// Promote only when the gate passes.
    Auto,
    /// Promote whatever the gate says (its figures are still printed and kept).
    Always,
    /// Only save the new version.
    Never,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateParams {
    pub mode: PromoteMode,
    pub auc_tolerance: f64,
    pub max_ece: f64,
    /// The user says the input schema changed on purpose: skip the schema check.
    pub schema_changed: bool,
    /// A challenger at or above this holdout AUC, where the champion was below it, is
    /// refused as carrying the label in an input (churn data never separates that well).
    #[serde(default = "default_leak_auc")]
    pub leak_auc: f64,
}

fn default_leak_auc() -> f64 {
    0.99
}

impl Default for GateParams {
    fn default() -> Self {
        GateParams {
            mode: PromoteMode::Auto,
            auc_tolerance: 0.01,
            max_ece: 0.05,
            schema_changed: false,
            leak_auc: default_leak_auc(),
        }
    }
}

/// One side's figures on the holdout.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Figures {
    pub auc: f64,
    pub ece: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Promoted,
    Refused,
    /// `--promote never`: saved, CURRENT untouched.
    Saved,
}

/// What the gate saw and decided (gate.json).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateRecord {
    pub decision: Decision,
    pub challenger: String,
    pub champion: Option<String>,
    pub params: GateParams,
    pub holdout: Option<String>,
    /// Labelled holdout customers both bundles scored.
    pub holdout_rows: usize,
    pub challenger_figures: Option<Figures>,
    pub champion_figures: Option<Figures>,
    /// Checks that failed (or, when promoted, why it was promoted).
    pub reasons: Vec<String>,
}

impl GateRecord {
    pub fn promotes(&self) -> bool {
        self.decision == Decision::Promoted
    }
}

/// Decide whether `challenger` replaces `champion` (`None` = there is none).
pub fn evaluate(
    params: &GateParams,
    challenger: &Bundle,
    champion: Option<&Bundle>,
    holdout: Option<&Holdout>,
) -> GateRecord {
    let mut record = GateRecord {
        decision: Decision::Promoted,
        challenger: challenger.manifest.version.clone(),
        champion: champion.map(|c| c.manifest.version.clone()),
        params: params.clone(),
        holdout: holdout.map(|h| h.source.clone()),
        holdout_rows: 0,
        challenger_figures: None,
        champion_figures: None,
        reasons: Vec::new(),
    };
    let Some(champion) = champion else {
        record.reasons.push("no champion".into());
        record.decision = decide(params.mode, true);
        return record;
    };
    let mut failures = Vec::new();
    if !params.schema_changed {
        failures.extend(schema_problems(
            &challenger.manifest.schema,
            &champion.manifest.schema,
        ));
    }
    if let Some(holdout) = holdout {
        compare_on(holdout, challenger, champion, &mut record, &mut failures);
    }
    let passed = failures.is_empty();
    // Failures first: they are what a refused user reads; notes from the comparison follow.
    record.reasons.splice(0..0, failures);
    if passed {
        record.reasons.push("every check passed".into());
    }
    record.decision = decide(params.mode, passed);
    record
}

fn decide(mode: PromoteMode, passed: bool) -> Decision {
    match (mode, passed) {
        (PromoteMode::Never, _) => Decision::Saved,
        (PromoteMode::Always, _) | (PromoteMode::Auto, true) => Decision::Promoted,
        (PromoteMode::Auto, false) => Decision::Refused,
    }
}

/// Below this many scored holdout rows the ECE bound is not applied: ten bins of under
/// fifty customers each carry a sampling error near the bound itself.
pub const MIN_ROWS_FOR_ECE: usize = 500;

/// Score the holdout with both bundles and check AUC and ECE.
fn compare_on(
    holdout: &Holdout,
    challenger: &Bundle,
    champion: &Bundle,
    record: &mut GateRecord,
    failures: &mut Vec<String>,
) {
    if challenger.retention.is_none() {
        record
            .reasons
            .push("the challenger has no churn model: AUC and ECE not compared".into());
        return;
    }
    let (y, mine, theirs) = scored_rows(holdout, challenger, champion);
    record.holdout_rows = y.len();
    record.challenger_figures = figures(&y, &mine);
    record.champion_figures = theirs.and_then(|q| figures(&y, &q));
    let Some(new) = record.challenger_figures else {
        failures.push(format!(
            "the holdout ({} scored rows) does not hold both churners and stayers",
            y.len()
        ));
        return;
    };
    let params = &record.params;
    let baseline = match champion_saw_holdout(holdout, challenger, champion) {
        Some(cv_auc) => {
            record.reasons.push(format!(
                "the champion was trained on this file, holdout rows included: its cross-validated AUC {cv_auc:.4} stands for it"
            ));
            Some(cv_auc)
        }
        None => record.champion_figures.map(|old| old.auc),
    };
    if new.auc >= params.leak_auc && baseline.is_none_or(|old| old < params.leak_auc) {
        failures.push(leak_suspected(
            new.auc,
            baseline,
            params.leak_auc,
            challenger,
            champion,
        ));
    }
    if let Some(old_auc) = baseline {
        let floor = old_auc - params.auc_tolerance;
        if new.auc < floor {
            failures.push(format!(
                "challenger AUC {:.4} is below champion AUC {old_auc:.4} minus tolerance {:.4} = {floor:.4}",
                new.auc, params.auc_tolerance
            ));
        }
    }
    if y.len() < MIN_ROWS_FOR_ECE {
        record.reasons.push(format!(
            "{} holdout rows are too few to judge calibration (ECE of either side moves by several points from a handful of customers); ECE shown, not gated below {MIN_ROWS_FOR_ECE} rows",
            y.len()
        ));
    } else if new.ece > params.max_ece {
        failures.push(format!(
            "challenger ECE {:.4} is above the bound {:.4}",
            new.ece, params.max_ece
        ));
    }
}

/// Why a near-perfect challenger is refused, naming the inputs the champion did not have:
/// a new column that copies or follows from the label is the usual cause.
fn leak_suspected(
    auc: f64,
    champion_auc: Option<f64>,
    bound: f64,
    challenger: &Bundle,
    champion: &Bundle,
) -> String {
    let new_inputs: Vec<String> = challenger
        .manifest
        .schema
        .columns
        .iter()
        .filter(|c| c.used)
        .filter(|c| {
            !champion
                .manifest
                .schema
                .columns
                .iter()
                .any(|o| o.name == c.name)
        })
        .map(|c| format!("`{}`", c.name))
        .collect();
    let champion_auc = champion_auc.map_or("-".to_string(), |a| format!("{a:.4}"));
    let suspects = if new_inputs.is_empty() {
        "an input that carries the label".to_string()
    } else {
        format!(
            "an input that carries the label (new since the champion: {})",
            new_inputs.join(", ")
        )
    };
    format!(
        "challenger AUC {auc:.4} is at or above {bound:.4} where the champion had {champion_auc}: too good for churn data, look for {suspects}; --gate-leak-auc moves the bound"
    )
}

/// The champion's cross-validated AUC when the holdout was kept out of the very file it
/// was trained on: scored on rows it learned from, its holdout AUC would be inflated and
/// refuse a plain retrain of an equally good model.
fn champion_saw_holdout(holdout: &Holdout, challenger: &Bundle, champion: &Bundle) -> Option<f64> {
    if !holdout.kept_out || challenger.manifest.training.sha256 != champion.manifest.training.sha256
    {
        return None;
    }
    let metrics = champion.manifest.metrics.retention.as_ref()?;
    metrics.chosen_candidate().map(|c| c.auc)
}

/// The labelled rows both bundles could score (the champion only counts when it has a
/// churn model): labels, challenger probabilities, champion probabilities.
fn scored_rows(
    holdout: &Holdout,
    challenger: &Bundle,
    champion: &Bundle,
) -> (Vec<bool>, Vec<f64>, Option<Vec<f64>>) {
    let mine = probabilities(challenger, holdout);
    let theirs = champion
        .retention
        .is_some()
        .then(|| probabilities(champion, holdout));
    let (mut y, mut p, mut q) = (Vec::new(), Vec::new(), Vec::new());
    for (i, label) in holdout.churned.iter().enumerate() {
        let other = theirs.as_ref().map(|t| t[i]);
        let (Some(label), Some(new)) = (label, mine[i]) else {
            continue;
        };
        match other {
            None => {}
            Some(Some(old)) => q.push(old),
            Some(None) => continue,
        }
        y.push(*label);
        p.push(new);
    }
    (y, p, theirs.map(|_| q))
}

fn figures(y: &[bool], p: &[f64]) -> Option<Figures> {
    let auc = auc(y, p);
    auc.is_finite().then(|| Figures {
        auc,
        ece: ece(&reliability(y, p)),
    })
}

/// Each holdout row's calibrated churn probability through the bundle's Scorer (`None`
/// when the row cannot be scored or the bundle has no churn model).
fn probabilities(bundle: &Bundle, holdout: &Holdout) -> Vec<Option<f64>> {
    let scorer = Scorer::new(bundle.clone());
    let columns: Vec<_> = scorer
        .input_names()
        .map(|n| holdout.table.column(n))
        .collect();
    (0..holdout.table.rows())
        .map(|row| {
            let values = row_values(&columns, row);
            let answer = scorer.score(Cow::Borrowed(""), values).ok()?;
            answer.retention.map(|r| r.probability)
        })
        .collect()
}

/// Why the challenger cannot score what the champion scored: an input it uses that the
/// champion did not take, of another kind, or another id column.
pub fn schema_problems(challenger: &Schema, champion: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    if challenger.id != champion.id {
        problems.push(format!(
            "the id column is {:?}, the champion's was {:?}",
            challenger.id, champion.id
        ));
    }
    for column in challenger.columns.iter().filter(|c| c.used) {
        match champion.columns.iter().find(|c| c.name == column.name) {
            None => problems.push(format!(
                "input `{}` was not an input of the champion",
                column.name
            )),
            Some(old) if old.kind != column.kind => problems.push(format!(
                "input `{}` is {:?}, it was {:?} for the champion",
                column.name, column.kind, old.kind
            )),
            Some(_) => {}
        }
    }
    problems
}

/// Write gate.json into the version's folder (temporary file, then rename).
pub fn write_record(dir: &Path, record: &GateRecord) -> Result<(), LifecycleError> {
    let path = dir.join(GATE_FILE);
    let write_error = |reason: String| LifecycleError::Write {
        path: path.clone(),
        reason,
    };
    let bytes = serde_json::to_vec_pretty(record).map_err(|e| write_error(e.to_string()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| write_error(e.to_string()))?;
    std::io::Write::write_all(&mut tmp, &bytes).map_err(|e| write_error(e.to_string()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_error(e.to_string()))?;
    tmp.persist(&path)
        .map_err(|e| write_error(e.error.to_string()))?;
    Ok(())
}

/// The gate record of a version, when it has a readable one.
pub fn read_record(dir: &Path) -> Option<GateRecord> {
    let bytes = std::fs::read(dir.join(GATE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The decision with both sides' figures, for the terminal.
pub fn describe(record: &GateRecord) -> String {
    let mut out = String::new();
    let champion = record.champion.as_deref().unwrap_or("none");
    let _ = writeln!(
        out,
        "gate: challenger {} vs champion {champion}",
        record.challenger
    );
    if let Some(source) = &record.holdout {
        let _ = writeln!(
            out,
            "  holdout: {source}, {} labelled customers",
            record.holdout_rows
        );
    }
    let show = |f: Option<Figures>| match f {
        Some(f) => format!("AUC {:.4}  ECE {:.4}", f.auc, f.ece),
        None => "-".to_string(),
    };
    if record.challenger_figures.is_some() || record.champion_figures.is_some() {
        let _ = writeln!(out, "  champion:   {}", show(record.champion_figures));
        let _ = writeln!(out, "  challenger: {}", show(record.challenger_figures));
        let p = &record.params;
        let _ = writeln!(
            out,
            "  rules: AUC >= champion - {:.4} and < {:.4}, ECE <= {:.4}, schema {}",
            p.auc_tolerance,
            p.leak_auc,
            p.max_ece,
            if p.schema_changed {
                "change allowed"
            } else {
                "compatible"
            }
        );
    }
    for reason in &record.reasons {
        let _ = writeln!(out, "  - {reason}");
    }
    let decision = match record.decision {
        Decision::Promoted => "promoted (now CURRENT)".to_string(),
        Decision::Refused => format!("refused (CURRENT stays {champion})"),
        Decision::Saved => format!("saved only, --promote never (CURRENT stays {champion})"),
    };
    let _ = writeln!(out, "  decision: {decision}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::SchemaColumn;
    use crate::data::ColumnKind;

    fn schema(columns: &[(&str, ColumnKind, bool)]) -> Schema {
        Schema {
            id: Some("customer_id".into()),
            label: None,
            value: None,
            dropped: Vec::new(),
            targets: Vec::new(),
            columns: columns
                .iter()
                .map(|(name, kind, used)| SchemaColumn {
                    name: name.to_string(),
                    kind: *kind,
                    used: *used,
                    categories: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_challenger_must_only_need_inputs_the_champion_took_with_the_same_kind() {
        use ColumnKind::{Categorical, Numeric};
        let champion = schema(&[("tenure", Numeric, true), ("contract", Categorical, true)]);
        let fewer = schema(&[("tenure", Numeric, true), ("extra", Numeric, false)]);
        assert!(schema_problems(&fewer, &champion).is_empty());
        let new_input = schema(&[("tenure", Numeric, true), ("region", Categorical, true)]);
        let problems = schema_problems(&new_input, &champion);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("`region`"), "{problems:?}");
        let retyped = schema(&[("contract", Numeric, true)]);
        assert!(schema_problems(&retyped, &champion)[0].contains("Numeric"));
        let mut other_id = fewer.clone();
        other_id.id = None;
        assert!(schema_problems(&other_id, &champion)[0].contains("id column"));
    }

    #[test]
    fn the_mode_decides_what_a_result_means() {
        assert_eq!(decide(PromoteMode::Auto, true), Decision::Promoted);
        assert_eq!(decide(PromoteMode::Auto, false), Decision::Refused);
        assert_eq!(decide(PromoteMode::Always, false), Decision::Promoted);
        assert_eq!(decide(PromoteMode::Never, true), Decision::Saved);
    }
}
