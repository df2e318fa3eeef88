//! Counts compared with the reference: PSI, missing, unseen and out-of-range rates per
//! input, PSI of the churn probability and of the segment shares, and a status for each.

use super::counts::{Counts, SlotMap};
use super::psi::{psi, shares};
use super::reference::Profile;
use serde::Serialize;
use std::fmt::Write as _;

/// PSI at or above `warn` is a warning, at or above `alert` an alert.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub warn: f64,
    pub alert: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("PSI thresholds must be finite with 0 ≤ warn ≤ alert; got warn {warn}, alert {alert}")]
pub struct ThresholdError {
    pub warn: f64,
    pub alert: f64,
}

impl Thresholds {
    pub fn new(warn: f64, alert: f64) -> Result<Self, ThresholdError> {
        if warn.is_finite() && alert.is_finite() && 0.0 <= warn && warn <= alert {
            Ok(Thresholds { warn, alert })
        } else {
            Err(ThresholdError { warn, alert })
        }
    }
}

impl Default for Thresholds {
    /// The usual PSI reading: below 0.1 stable, 0.1 to 0.25 some shift, above 0.25 a
    /// shift worth acting on.
    fn default() -> Self {
        Thresholds {
            warn: 0.1,
            alert: 0.25,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warn,
    Alert,
}

impl Status {
    pub fn of(psi: f64, t: Thresholds) -> Self {
        if psi >= t.alert {
            Status::Alert
        } else if psi >= t.warn {
            Status::Warn
        } else {
            Status::Ok
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Alert => "alert",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputDrift {
    pub input: String,
    /// `numeric` or `categorical`.
    pub kind: &'static str,
    /// Over the reference bins (categories plus unseen), present values only.
    pub psi: f64,
    pub missing_rate: f64,
    /// Reference share of missing values, for comparison.
    pub reference_missing_rate: f64,
    /// Categorical inputs: share of present values never seen in training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unseen_rate: Option<f64>,
    /// Numeric inputs: share of present values outside the training min..max.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_range_rate: Option<f64>,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreDrift {
    pub psi: f64,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Records compared with the reference.
    pub records: u64,
    pub reference_rows: usize,
    pub thresholds: Thresholds,
    pub inputs: Vec<InputDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub churn_probability: Option<ScoreDrift>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<ScoreDrift>,
}

impl DriftReport {
    pub fn compare(slots: &SlotMap, counts: &Counts, thresholds: Thresholds) -> Self {
        let reference = slots.reference();
        let records = counts.records();
        let inputs = (0..reference.inputs.len())
            .map(|i| input_drift(slots, counts, i, thresholds))
            .collect();
        let score = |psi: f64| ScoreDrift {
            psi,
            status: Status::of(psi, thresholds),
        };
        let churn_probability = slots.churn_slots().map(|(first, profile)| {
            let bins = counts.range(first, profile.bins());
            score(psi(&profile.shares, &shares(bins, bins.iter().sum())))
        });
        let (first, k) = slots.segment_slots();
        let segments = (k > 0).then(|| {
            let current = counts.range(first, k);
            score(psi(
                &reference.segments,
                &shares(current, current.iter().sum()),
            ))
        });
        DriftReport {
            records,
            reference_rows: reference.rows,
            thresholds,
            inputs,
            churn_probability,
            segments,
        }
    }

    /// Inputs at `status` or worse.
    pub fn inputs_at(&self, status: Status) -> Vec<&str> {
        self.inputs
            .iter()
            .filter(|d| d.status >= status)
            .map(|d| d.input.as_str())
            .collect()
    }

    /// A fixed-width table for the terminal.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>9} {:>9} {:>9}  status",
            "input", "psi", "missing", "unseen", "out-range"
        );
        let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.2}%", 100.0 * x));
        for d in &self.inputs {
            let _ = writeln!(
                out,
                "{:<24} {:>8.4} {:>9} {:>9} {:>9}  {}",
                d.input,
                d.psi,
                pct(Some(d.missing_rate)),
                pct(d.unseen_rate),
                pct(d.out_of_range_rate),
                d.status.as_str()
            );
        }
        for (name, s) in [
            ("(churn probability)", &self.churn_probability),
            ("(segment shares)", &self.segments),
        ] {
            if let Some(s) = s {
                let _ = writeln!(
                    out,
                    "{name:<24} {:>8.4} {:>30}  {}",
                    s.psi,
                    "",
                    s.status.as_str()
                );
            }
        }
        let alerts = self.inputs_at(Status::Alert);
        let warns: Vec<&str> = self
            .inputs
            .iter()
            .filter(|d| d.status == Status::Warn)
            .map(|d| d.input.as_str())
            .collect();
        let _ = writeln!(
            out,
            "{} records vs {} training rows; PSI warn at {}, alert at {}; alerts: {}; warnings: {}",
            self.records,
            self.reference_rows,
            self.thresholds.warn,
            self.thresholds.alert,
            list(&alerts),
            list(&warns)
        );
        out
    }
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn input_drift(slots: &SlotMap, counts: &Counts, index: usize, t: Thresholds) -> InputDrift {
    let input = &slots.reference().inputs[index];
    let at = slots.input_slots(index);
    let buckets = counts.range(at.first, at.buckets);
    let present: u64 = buckets.iter().sum();
    let rate = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let current = shares(buckets, present);
    let (kind, psi, reference_missing, unseen, out_of_range) = match &input.profile {
        Profile::Numeric(p) => (
            "numeric",
            psi(&p.shares, &current),
            p.missing,
            None,
            at.out_of_range.map(|s| rate(counts.get(s), present)),
        ),
        Profile::Categorical(p) => {
            let mut reference = p.shares.clone();
            reference.push(0.0);
            let unseen = buckets.last().copied().unwrap_or(0);
            (
                "categorical",
                psi(&reference, &current),
                p.missing,
                Some(rate(unseen, present)),
                None,
            )
        }
    };
    InputDrift {
        input: input.name.clone(),
        kind,
        psi,
        missing_rate: rate(counts.get(at.missing), counts.records()),
        reference_missing_rate: reference_missing,
        unseen_rate: unseen,
        out_of_range_rate: out_of_range,
        status: Status::of(psi, t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_must_be_ordered_and_finite() {
        assert!(Thresholds::new(0.1, 0.25).is_ok());
        assert!(Thresholds::new(0.3, 0.25).is_err());
        assert!(Thresholds::new(-0.1, 0.25).is_err());
        assert!(Thresholds::new(0.1, f64::NAN).is_err());
    }

    #[test]
    fn status_reads_psi_at_the_thresholds() {
        let t = Thresholds::default();
        assert_eq!(Status::of(0.0999, t), Status::Ok);
        assert_eq!(Status::of(0.1, t), Status::Warn);
        assert_eq!(Status::of(0.25, t), Status::Alert);
    }
}
