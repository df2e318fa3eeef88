use crate::bundle::BundleError;
use crate::train::TrainError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("version {version} cannot become CURRENT (CURRENT is unchanged)")]
    Refused {
        version: String,
        source: BundleError,
    },
    #[error("version {version} is saved but not CURRENT: the gate compared it with {compared}, and another switch has since made {found} CURRENT; train again, or `custscore models promote {version}` to override")]
    ChampionMoved {
        version: String,
        compared: String,
        found: String,
    },
    #[error("{}: no version {version:?} here", dir.display())]
    NoSuchVersion { dir: PathBuf, version: String },
    #[error("no previous champion to roll back to: the history of CURRENT ({current}) holds no earlier one")]
    NoPrevious { current: String },
    #[error("{}, line {line}: {reason}", path.display())]
    History {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: another process has been switching CURRENT for {:.1}s; CURRENT is unchanged, try again when it is done", path.display(), waited.as_secs_f64())]
    Locked {
        path: PathBuf,
        waited: std::time::Duration,
    },
    #[error("{}: cannot write: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
}

pub(crate) fn io_error(
    path: &std::path::Path,
) -> impl FnOnce(std::io::Error) -> LifecycleError + '_ {
    move |source| LifecycleError::Io {
        path: path.to_path_buf(),
        source,
    }
}
