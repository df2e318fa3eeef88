use super::DataQuality;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Numeric,
    Categorical,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Numeric(Vec<Option<f64>>),
    Categorical(Vec<Option<Text>>),
}

/// A categorical cell: shared, so the few distinct values of a column of millions of rows
/// are stored once (the reader interns them), not once per cell.
pub type Text = std::sync::Arc<str>;

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

impl Column {
    pub fn kind(&self) -> ColumnKind {
        match self.data {
            ColumnData::Numeric(_) => ColumnKind::Numeric,
            ColumnData::Categorical(_) => ColumnKind::Categorical,
        }
    }

    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Numeric(v) => v.len(),
            ColumnData::Categorical(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn missing(&self) -> usize {
        match &self.data {
            ColumnData::Numeric(v) => v.iter().filter(|x| x.is_none()).count(),
            ColumnData::Categorical(v) => v.iter().filter(|x| x.is_none()).count(),
        }
    }

    pub fn numeric(&self) -> Option<&[Option<f64>]> {
        match &self.data {
            ColumnData::Numeric(v) => Some(v),
            ColumnData::Categorical(_) => None,
        }
    }

    pub fn categorical(&self) -> Option<&[Option<Text>]> {
        match &self.data {
            ColumnData::Categorical(v) => Some(v),
            ColumnData::Numeric(_) => None,
        }
    }
}

/// One row per customer, typed columns, plus where it came from and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file as the user named it.
    pub source: String,
    /// sha256 of the file's bytes, recorded in the bundle.
    pub sha256: String,
    /// The customer id of each row (the row number when the file has no id column).
    pub ids: Vec<String>,
    /// Source line of each row, for messages.
    pub lines: Vec<u64>,
    /// Every column except the id column.
    pub columns: Vec<Column>,
    pub quality: DataQuality,
}

impl Table {
    pub fn rows(&self) -> usize {
        self.ids.len()
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Take a column out of the table (the label leaves the feature columns this way).
    pub fn remove_column(&mut self, name: &str) -> Option<Column> {
        let at = self.columns.iter().position(|c| c.name == name)?;
        Some(self.columns.remove(at))
    }

    /// Keep only the rows whose index is in `keep` (ascending), in every column.
    pub fn select_rows(&self, keep: &[usize]) -> Table {
        let pick = |c: &Column| Column {
            name: c.name.clone(),
            data: match &c.data {
                ColumnData::Numeric(v) => ColumnData::Numeric(keep.iter().map(|&i| v[i]).collect()),
                ColumnData::Categorical(v) => {
                    ColumnData::Categorical(keep.iter().map(|&i| v[i].clone()).collect())
                }
            },
        };
        Table {
            source: self.source.clone(),
            sha256: self.sha256.clone(),
            ids: keep.iter().map(|&i| self.ids[i].clone()).collect(),
            lines: keep.iter().map(|&i| self.lines[i]).collect(),
            columns: self.columns.iter().map(pick).collect(),
            quality: self.quality.clone(),
        }
    }
}
