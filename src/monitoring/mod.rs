//! Drift monitoring: how far the customers being scored have moved from the ones the
//! bundle was trained on. `reference` is the training profile stored in the bundle,
//! `counts` turns scored records into bin counts, and `drift` compares counts with the
//! reference (PSI and rates per input).

pub mod counts;
pub mod drift;
pub mod psi;
pub mod reference;

pub use counts::{Counts, SlotMap};
pub use drift::{DriftReport, InputDrift, Status, Thresholds};
pub use reference::DriftReference;
