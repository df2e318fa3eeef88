//! Drift monitoring: how far the customers being scored have moved from the ones the
//! bundle was trained on. `reference` is the training profile stored in the bundle and
//! `psi` the population stability index that compares the two.

pub mod psi;
pub mod reference;

pub use reference::DriftReference;
