use std::path::PathBuf;

/// Why a customer file could not be read at all. Row-level problems are not errors:
/// they become [`super::RejectedRow`]s in the quality report.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: cannot read file", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: line 1: the file is empty (a header row is required)", path.display())]
    Empty { path: PathBuf },
    #[error("{}: line {line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{}: line 1, {problem}", path.display())]
    Header {
        path: PathBuf,
        problem: super::csv_input::HeaderError,
    },
    #[error("{}: line 1: no column named `{name}` ({role}); columns are: {available}", path.display())]
    NoSuchColumn {
        path: PathBuf,
        name: String,
        role: &'static str,
        available: String,
    },
    #[error("{}: no usable data rows ({rejected} rejected; first: {first})", path.display())]
    NoRows {
        path: PathBuf,
        rejected: usize,
        first: String,
    },
}
