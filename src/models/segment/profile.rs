//! Segment profiles a marketer can act on: size, value, churn, what sets each segment
//! apart, and a readable name made from those differences.

use crate::data::{ColumnData, Table, Text};
use crate::features::{Encoding, FeatureEncoder};
use crate::models::stats::{mean, median, std_dev};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NumericSummary {
    pub column: String,
    /// Mean and median of the segment's values; `None` when none of its customers has one
    /// (JSON cannot hold the NaN an empty mean would be).
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub overall_mean: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategoryShare {
    pub value: String,
    pub share: f64,
    pub overall_share: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CategorySummary {
    pub column: String,
    pub top: Vec<CategoryShare>,
}

/// One way a segment differs from the whole customer base, in words and as a score
/// (standardized difference: comparable across numeric and categorical columns).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Distinction {
    pub column: String,
    pub description: String,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SegmentProfile {
    pub id: usize,
    pub name: String,
    pub size: usize,
    pub share: f64,
    /// Share of total customer value held by this segment (when a value column exists).
    pub value_share: Option<f64>,
    /// Share of labelled customers in this segment who churned (when a label exists).
    pub churn_rate: Option<f64>,
    pub numeric: Vec<NumericSummary>,
    pub categorical: Vec<CategorySummary>,
    /// The features that most set this segment apart, strongest first.
    pub distinguishing: Vec<Distinction>,
}

/// What profiling needs besides the table: the segment of each row, and optionally the
/// churn label and customer value of each row.
pub struct ProfileInputs<'a> {
    pub table: &'a Table,
    pub encoder: &'a FeatureEncoder,
    pub labels: &'a [usize],
    pub k: usize,
    pub churned: Option<&'a [Option<bool>]>,
    pub value: Option<&'a [Option<f64>]>,
}

const NAME_PARTS: usize = 3;
/// Two traits this correlated say the same thing (tenure and total charges, "no internet"
/// and "no online security"): a name keeps only the stronger one.
const REDUNDANT_CORRELATION: f64 = 0.8;
const TOP_CATEGORIES: usize = 3;

pub fn profile_segments(inputs: &ProfileInputs) -> Vec<SegmentProfile> {
    let members: Vec<Vec<usize>> = (0..inputs.k)
        .map(|s| {
            (0..inputs.labels.len())
                .filter(|&i| inputs.labels[i] == s)
                .collect()
        })
        .collect();
    let total_value: Option<f64> = inputs.value.map(|v| v.iter().flatten().sum());
    let mut profiles: Vec<SegmentProfile> = members
        .iter()
        .enumerate()
        .map(|(id, rows)| profile_one(id, rows, inputs, total_value))
        .collect();
    make_names_unique(&mut profiles);
    profiles
}

fn profile_one(
    id: usize,
    rows: &[usize],
    inputs: &ProfileInputs,
    total_value: Option<f64>,
) -> SegmentProfile {
    let n = inputs.labels.len();
    let mut numeric = Vec::new();
    let mut categorical = Vec::new();
    let mut distinctions = Vec::new();
    for input in &inputs.encoder.inputs {
        let Some(column) = inputs.table.column(&input.name) else {
            continue;
        };
        match (&column.data, &input.encoding) {
            (ColumnData::Numeric(values), Encoding::Numeric { binary, .. }) => {
                let (summary, distinction) = describe_numeric(&input.name, values, rows, *binary);
                numeric.push(summary);
                distinctions.extend(distinction);
            }
            (ColumnData::Categorical(values), Encoding::OneHot { .. }) => {
                let (summary, distinction) = describe_categorical(&input.name, values, rows);
                categorical.push(summary);
                distinctions.extend(distinction);
            }
            _ => {}
        }
    }
    distinctions.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    let distinctions = pick_distinct(distinctions, inputs.table);
    let name = if distinctions.is_empty() {
        format!("segment {id}")
    } else {
        distinctions
            .iter()
            .map(|d| d.description.as_str())
            .collect::<Vec<_>>()
            .join(" · ")
    };
    SegmentProfile {
        id,
        name,
        size: rows.len(),
        share: rows.len() as f64 / n.max(1) as f64,
        value_share: inputs
            .value
            .zip(total_value)
            .map(|(values, total)| share_of(rows.iter().filter_map(|&i| values[i]).sum(), total)),
        churn_rate: inputs.churned.map(|churned| {
            let labelled: Vec<bool> = rows.iter().filter_map(|&i| churned[i]).collect();
            labelled.iter().filter(|&&c| c).count() as f64 / labelled.len().max(1) as f64
        }),
        numeric,
        categorical,
        distinguishing: distinctions,
    }
}

fn describe_numeric(
    column: &str,
    values: &[Option<f64>],
    rows: &[usize],
    binary: bool,
) -> (NumericSummary, Option<Distinction>) {
    let all: Vec<f64> = values.iter().flatten().copied().collect();
    let mine: Vec<f64> = rows.iter().filter_map(|&i| values[i]).collect();
    let overall_mean = if all.is_empty() { 0.0 } else { mean(&all) };
    let summary = NumericSummary {
        column: column.to_string(),
        mean: (!mine.is_empty()).then(|| mean(&mine)),
        median: (!mine.is_empty()).then(|| median(mine.iter().copied())),
        overall_mean,
    };
    let spread = std_dev(&all);
    let Some(segment_mean) = summary.mean.filter(|_| spread > 0.0 && spread.is_finite()) else {
        return (summary, None);
    };
    let score = (segment_mean - summary.overall_mean) / spread;
    let description = match (binary, score > 0.0) {
        (true, true) => format!("{column}: yes"),
        (true, false) => format!("{column}: no"),
        (false, true) => format!("high {column}"),
        (false, false) => format!("low {column}"),
    };
    let distinction = Distinction {
        column: column.to_string(),
        description,
        score,
    };
    (summary, Some(distinction))
}

fn describe_categorical(
    column: &str,
    values: &[Option<Text>],
    rows: &[usize],
) -> (CategorySummary, Option<Distinction>) {
    let shares = |indices: &mut dyn Iterator<Item = usize>| {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        let mut total = 0usize;
        for i in indices {
            if let Some(v) = &values[i] {
                *counts.entry(v).or_default() += 1;
                total += 1;
            }
        }
        counts
            .into_iter()
            .map(|(v, c)| (v, c as f64 / total.max(1) as f64))
            .collect::<HashMap<&str, f64>>()
    };
    let overall = shares(&mut (0..values.len()));
    let mine = shares(&mut rows.iter().copied());
    let mut top: Vec<CategoryShare> = mine
        .iter()
        .map(|(&value, &share)| CategoryShare {
            value: value.to_string(),
            share,
            overall_share: overall.get(value).copied().unwrap_or(0.0),
        })
        .collect();
    top.sort_by(|a, b| b.share.total_cmp(&a.share).then(a.value.cmp(&b.value)));
    // The category most over-represented here, in standard units of a share.
    let distinction = top
        .iter()
        .filter(|c| c.overall_share > 0.0 && c.overall_share < 1.0)
        .map(|c| {
            let score =
                (c.share - c.overall_share) / (c.overall_share * (1.0 - c.overall_share)).sqrt();
            (c, score)
        })
        .filter(|(_, score)| *score > 0.0)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, score)| Distinction {
            column: column.to_string(),
            description: format!("{column}: {}", c.value),
            score,
        });
    top.truncate(TOP_CATEGORIES);
    let summary = CategorySummary {
        column: column.to_string(),
        top,
    };
    (summary, distinction)
}

/// `part / total`, or 0 when the total is zero (no value to share).
pub(crate) fn share_of(part: f64, total: f64) -> f64 {
    if total == 0.0 {
        0.0
    } else {
        part / total
    }
}

fn make_names_unique(profiles: &mut [SegmentProfile]) {
    for i in 1..profiles.len() {
        if profiles[..i].iter().any(|p| p.name == profiles[i].name) {
            profiles[i].name = format!("{} (#{})", profiles[i].name, profiles[i].id);
        }
    }
}

/// The strongest distinctions, skipping any that is nearly a copy of one already kept.
fn pick_distinct(ranked: Vec<Distinction>, table: &Table) -> Vec<Distinction> {
    let mut kept: Vec<(Distinction, Vec<f64>)> = Vec::new();
    for d in ranked {
        if kept.len() == NAME_PARTS {
            break;
        }
        let Some(signal) = trait_signal(&d, table) else {
            continue;
        };
        let redundant = kept
            .iter()
            .any(|(_, other)| correlation(&signal, other).abs() > REDUNDANT_CORRELATION);
        if !redundant {
            kept.push((d, signal));
        }
    }
    kept.into_iter().map(|(d, _)| d).collect()
}

/// The trait as a number per customer: the column's value, or 1/0 for "has this category".
fn trait_signal(d: &Distinction, table: &Table) -> Option<Vec<f64>> {
    let column = table.column(&d.column)?;
    Some(match &column.data {
        ColumnData::Numeric(v) => {
            let fill = mean(&v.iter().flatten().copied().collect::<Vec<_>>());
            v.iter().map(|x| x.unwrap_or(fill)).collect()
        }
        ColumnData::Categorical(v) => {
            let category = d.description.strip_prefix(&format!("{}: ", d.column))?;
            v.iter()
                .map(|x| f64::from(u8::from(x.as_deref() == Some(category))))
                .collect()
        }
    })
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (mean(a), mean(b));
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma).powi(2);
        vb += (y - mb).powi(2);
    }
    if va == 0.0 || vb == 0.0 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{read_customers, ReadOptions};
    use crate::features::EncoderParams;
    use std::io::Write;

    #[test]
    fn an_empty_segment_has_no_mean_and_zero_value_gives_zero_share() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"id,tenure,value\na,1,0\nb,2,0\nc,,0\nd,4,0\n")
            .unwrap();
        let options = ReadOptions {
            id: Some("id".into()),
            ..Default::default()
        };
        let table = read_customers(file.path(), &options).unwrap();
        let encoder = FeatureEncoder::fit(&table, &[], &EncoderParams::default());
        let value: Vec<Option<f64>> = vec![Some(0.0); 4];
        // Segment 1 holds only the customer without a tenure; segment 2 holds nobody.
        let profiles = profile_segments(&ProfileInputs {
            table: &table,
            encoder: &encoder,
            labels: &[0, 0, 1, 0],
            k: 3,
            churned: None,
            value: Some(&value),
        });
        let tenure = |p: &SegmentProfile| {
            p.numeric
                .iter()
                .find(|n| n.column == "tenure")
                .cloned()
                .unwrap()
        };
        assert_eq!(tenure(&profiles[1]).mean, None);
        assert_eq!(tenure(&profiles[2]).median, None);
        assert_eq!(tenure(&profiles[0]).median, Some(2.0));
        assert!(profiles.iter().all(|p| p.value_share == Some(0.0)));
        assert!(serde_json::to_string(&profiles).is_ok());
    }
}
