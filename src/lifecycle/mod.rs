//! The model lifecycle: which bundle is the champion (`CURRENT`), how a new one earns
//! that place (`gate`), how `CURRENT` moves and is recorded (`registry`, `history`).
//!
//! Order of every change of `CURRENT`: (1) the target bundle is loaded with every check a
//! reader makes, (2) `CURRENT` is replaced atomically, (3) one line is appended to
//! `HISTORY.jsonl`. A crash before (2) changes nothing; a crash between (2) and (3) leaves
//! `CURRENT` on a verified bundle and the history one line short, which the replay
//! repairs by treating `CURRENT` as the top of the champion stack. Appending first would
//! instead record a change that may never have happened, and a later rollback would
//! return to a bundle that was never served. Steps (1) to (3), and the reading of
//! `CURRENT` and the history that decides them, run under the folder's switch lock
//! (`lock`), so switches from several processes never interleave.

mod error;
pub mod gate;
pub mod history;
pub mod lock;
pub mod registry;
pub mod retrain;

pub use error::LifecycleError;
pub use gate::{GateParams, GateRecord, PromoteMode};
pub use history::{Action, HistoryEntry};
pub use registry::{Registry, Switch, VersionInfo};
pub use retrain::{train_gated, Trained};
