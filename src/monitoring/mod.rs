//! Drift monitoring: how far the customers being scored have moved from the ones the
//! bundle was trained on. `reference` is the training profile stored in the bundle,
//! `counts` turns scored records into bin counts, `drift` compares counts with the
//! reference (PSI and rates per input), `window` keeps the service's recent counts and
//! `evidently` reproduces Evidently's binning for side-by-side checks.

pub mod counts;
pub mod drift;
pub mod evidently;
pub mod psi;
pub mod reference;
pub mod window;

pub use counts::{Counts, SlotMap};
pub use drift::{DriftReport, InputDrift, Status, Thresholds};
pub use reference::DriftReference;
pub use window::{Clock, Window, WindowInfo, WindowSpan};
