//! Decisions: *What should we do, with whom, within a budget, and when?* Configured
//! actions and their expected value per customer (next best action), target lists that
//! maximise expected value within a budget, and the changes between two scorings that
//! trigger a contact.

pub mod actions;
pub mod budget;
pub mod changes;
pub mod nba;

pub use actions::{ActionSet, ActionsError};
pub use nba::{target_probability, Decider, NextBestAction};
