//! `score --rank-by COLUMN`: a scored CSV file reordered best first by one of its numeric
//! columns (e.g. `uplift`, so a target list starts with the customers a contact moves
//! most). The file is read whole, sorted and replaced in one rename: a target list fits
//! in memory where a full scoring run need not.

use std::cmp::Ordering;
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RankError {
    #[error("{path}")]
    Csv { path: String, source: csv::Error },
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("--rank-by {column}: {path} has no such column (columns: {columns})")]
    NoColumn {
        path: String,
        column: String,
        columns: String,
    },
    #[error("--rank-by needs --output FILE in CSV format (not standard output or JSON Lines)")]
    NotAFile,
}

/// Refuse, before any scoring, a column the scored file at `path` will not have.
pub fn require_column(
    scorer: &crate::score::Scorer,
    column: &str,
    path: &Path,
) -> Result<(), RankError> {
    let mut header = Vec::new();
    scorer.write_csv_header(&mut header);
    let mut reader = csv::Reader::from_reader(&header[..]);
    let names = reader.headers().cloned().unwrap_or_default();
    match names.iter().any(|name| name == column) {
        true => Ok(()),
        false => Err(RankError::NoColumn {
            path: path.display().to_string(),
            column: column.to_string(),
            columns: names.iter().collect::<Vec<_>>().join(", "),
        }),
    }
}

/// Sort the rows of the CSV at `path` by `column`, highest first; rows whose cell is
/// empty or not a number go last, and ties keep their order. Returns the row count.
pub fn rank_csv(path: &Path, column: &str) -> Result<usize, RankError> {
    let shown = || path.display().to_string();
    let csv_error = |source| RankError::Csv {
        path: shown(),
        source,
    };
    let mut reader = csv::Reader::from_path(path).map_err(csv_error)?;
    let header = reader.byte_headers().map_err(csv_error)?.clone();
    let at = (header.iter().position(|h| h == column.as_bytes())).ok_or_else(|| {
        RankError::NoColumn {
            path: shown(),
            column: column.to_string(),
            columns: (header.iter())
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect::<Vec<_>>()
                .join(", "),
        }
    })?;
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(csv_error)?;
        let key = (std::str::from_utf8(record.get(at).unwrap_or_default()).ok())
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|x| x.is_finite());
        rows.push((key, record));
    }
    rows.sort_by(|(a, _), (b, _)| best_first(*a, *b));
    write_beside(path, &header, rows.iter().map(|(_, r)| r)).map_err(|source| RankError::Io {
        path: shown(),
        source,
    })?;
    Ok(rows.len())
}

fn best_first(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.total_cmp(&a),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Write to a temporary file in the same folder, then rename it over `path`.
fn write_beside<'r>(
    path: &Path,
    header: &csv::ByteRecord,
    rows: impl Iterator<Item = &'r csv::ByteRecord>,
) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let temp = tempfile::NamedTempFile::new_in(dir.unwrap_or(Path::new(".")))?;
    let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(temp));
    writer.write_byte_record(header)?;
    for row in rows {
        writer.write_byte_record(row)?;
    }
    let buffered = writer.into_inner().map_err(|e| e.into_error())?;
    let mut temp = buffered.into_inner().map_err(|e| e.into_error())?;
    temp.flush()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_best_first_with_blanks_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scored.csv");
        std::fs::write(&path, "id,uplift\na,0.1\nb,\nc,0.3\nd,-0.2\ne,0.3\n").unwrap();
        assert_eq!(rank_csv(&path, "uplift").unwrap(), 5);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "id,uplift\nc,0.3\ne,0.3\na,0.1\nd,-0.2\nb,\n");
    }

    #[test]
    fn an_unknown_column_is_named_with_the_ones_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scored.csv");
        std::fs::write(&path, "id,churn_probability\na,0.1\n").unwrap();
        let error = rank_csv(&path, "uplift").unwrap_err().to_string();
        assert!(
            error.contains("no such column") && error.contains("churn_probability"),
            "{error}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "id,churn_probability\na,0.1\n"
        );
    }
}
