//! Reading customer tables: CSV bytes in, a typed, column-oriented [`Table`] and a
//! [`DataQuality`] report out. Row problems become rejected rows with their line
//! number; file problems become a [`DataError`] naming the file, line and column.

mod baskets;
pub mod csv_input;
mod error;
mod quality;
mod reader;
pub mod sample;
mod table;
pub mod transactions;

pub use baskets::{read_baskets, BasketBuilder, BasketOptions, BasketReport, Baskets};
pub use error::DataError;
pub use quality::{CellIssue, DataQuality, DuplicateId, RejectedRow};
pub use reader::{read_customers, ReadOptions};
pub use table::{Column, ColumnData, ColumnKind, Table, Text};

/// Lower-case hex sha256 of some bytes (training data and bundle files).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Position of a named column in a header, or the error naming the file, the column, its
/// role and the columns there are.
pub fn find_column(
    path: &std::path::Path,
    header: &[String],
    name: &str,
    role: &'static str,
) -> Result<usize, DataError> {
    header
        .iter()
        .position(|h| h == name)
        .ok_or_else(|| DataError::NoSuchColumn {
            path: path.to_path_buf(),
            name: name.to_string(),
            role,
            available: header.join(", "),
        })
}

/// Is this cell a missing value? Blanks, whitespace and the usual spellings of "no value".
pub fn is_missing(cell: &str) -> bool {
    is_missing_trimmed(trim(cell))
}

/// `cell.trim()`, with the usual case (nothing to trim) seen from the first and last
/// bytes: scoring trims every cell, and the general trim decodes characters at both ends.
pub fn trim(cell: &str) -> &str {
    match (cell.as_bytes().first(), cell.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => cell,
        _ => cell.trim(),
    }
}

/// [`is_missing`] for a cell already trimmed.
pub fn is_missing_trimmed(cell: &str) -> bool {
    cell.is_empty()
        || (cell.len() <= 4 && MISSING_TOKENS.iter().any(|t| cell.eq_ignore_ascii_case(t)))
}

/// Cell spellings that mean "no value" in exports from R, pandas and databases.
pub const MISSING_TOKENS: &[&str] = &["NA", "N/A", "NaN", "null", "NULL"];

/// Parse a numeric cell; `None` when the cell is not a finite number.
pub fn parse_number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_matches_the_standard_trim() {
        for cell in [
            "",
            " ",
            "a",
            " a ",
            "a b",
            "\u{a0}x\u{a0}",
            "é",
            " é",
            "x\t",
            "\u{2003}",
        ] {
            assert_eq!(trim(cell), cell.trim(), "{cell:?}");
        }
    }

    #[test]
    fn blanks_and_tokens_are_missing() {
        for cell in ["", " ", "\t", "NA", "nan", "null", " N/A "] {
            assert!(is_missing(cell), "{cell:?}");
        }
        for cell in ["0", "No", "None", "-"] {
            assert!(!is_missing(cell), "{cell:?}");
        }
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(parse_number(" 29.85 "), Some(29.85));
        assert_eq!(parse_number("-3e2"), Some(-300.0));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("1,5"), None);
    }
}
