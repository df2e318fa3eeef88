use serde::{Deserialize, Serialize};
use std::fmt;

/// How many examples of each finding are kept; totals are always exact.
pub const MAX_EXAMPLES: usize = 50;

/// What was found in the training data, per record where it concerns a record.
/// Stored in the bundle and printed by `train` and `inspect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DataQuality {
    /// Data rows in the file (header excluded).
    pub rows_read: usize,
    /// Rows that made it into the table.
    pub rows_accepted: usize,
    pub rejected_total: usize,
    /// The first rejected rows, with line number and reason.
    pub rejected: Vec<RejectedRow>,
    pub duplicate_id_total: usize,
    pub duplicate_ids: Vec<DuplicateId>,
    /// Missing cells per column (only columns with any).
    pub missing: Vec<(String, usize)>,
    /// Columns with a single value (or none): kept out of the models.
    pub constant_columns: Vec<String>,
    /// Text columns where (almost) every value is distinct: kept out of the models.
    pub identifier_columns: Vec<String>,
    /// Cells whose value does not fit their column (text in a numeric column): read as missing.
    pub out_of_domain_total: usize,
    pub out_of_domain: Vec<CellIssue>,
    /// Rows whose label was missing or not one of the two classes: kept for segments,
    /// left out of supervised training.
    pub unlabeled_rows: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RejectedRow {
    pub line: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DuplicateId {
    /// The id itself, kept only when the user asked for samples (`--quality-samples`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub lines: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CellIssue {
    pub line: u64,
    pub column: String,
    /// The cell's content, kept only when the user asked for samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub reason: String,
}

impl DataQuality {
    pub fn reject(&mut self, line: u64, reason: impl Into<String>) {
        self.rejected_total += 1;
        if self.rejected.len() < MAX_EXAMPLES {
            self.rejected.push(RejectedRow {
                line,
                reason: reason.into(),
            });
        }
    }

    pub fn out_of_domain(&mut self, issue: CellIssue) {
        self.out_of_domain_total += 1;
        if self.out_of_domain.len() < MAX_EXAMPLES {
            self.out_of_domain.push(issue);
        }
    }

    /// Forget every customer value (ids, cell contents), keeping counts and line numbers:
    /// what a bundle, its report and `inspect` show unless samples were asked for.
    pub fn without_values(mut self) -> Self {
        for d in &mut self.duplicate_ids {
            d.id = None;
        }
        for issue in &mut self.out_of_domain {
            issue.value = None;
        }
        self
    }

    /// Every finding as one line each, for the terminal.
    pub fn findings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.rejected {
            out.push(format!("rejected line {}: {}", r.line, r.reason));
        }
        if self.rejected_total > self.rejected.len() {
            out.push(format!(
                "... and {} more rejected rows",
                self.rejected_total - self.rejected.len()
            ));
        }
        if self.duplicate_id_total > 0 {
            let examples: Vec<String> = self
                .duplicate_ids
                .iter()
                .take(5)
                .map(|d| match &d.id {
                    Some(id) => format!("{id} (lines {:?})", d.lines),
                    None => format!("lines {:?}", d.lines),
                })
                .collect();
            out.push(format!(
                "{} duplicate ids, kept and reported: {}",
                self.duplicate_id_total,
                examples.join(", ")
            ));
        }
        for (column, count) in &self.missing {
            out.push(format!("{column}: {count} missing values (imputed)"));
        }
        for c in &self.constant_columns {
            out.push(format!("{c}: constant, not used by the models"));
        }
        for c in &self.identifier_columns {
            out.push(format!(
                "{c}: looks like an identifier (all values distinct), not used by the models"
            ));
        }
        for issue in &self.out_of_domain {
            let value = issue
                .value
                .as_ref()
                .map_or(String::from("value"), |v| format!("{v:?}"));
            out.push(format!(
                "line {}, column {}: {value} {}; read as missing",
                issue.line, issue.column, issue.reason
            ));
        }
        if self.out_of_domain_total > self.out_of_domain.len() {
            out.push(format!(
                "... and {} more out-of-domain cells",
                self.out_of_domain_total - self.out_of_domain.len()
            ));
        }
        if self.unlabeled_rows > 0 {
            out.push(format!(
                "{} rows without a usable label: left out of the churn model",
                self.unlabeled_rows
            ));
        }
        out
    }
}

impl fmt::Display for DataQuality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rows read {}, accepted {}, rejected {}, duplicate ids {}, out-of-domain cells {}",
            self.rows_read,
            self.rows_accepted,
            self.rejected_total,
            self.duplicate_id_total,
            self.out_of_domain_total
        )?;
        for line in self.findings() {
            writeln!(f, "  - {line}")?;
        }
        Ok(())
    }
}
