//! Fitted models. Each one is plain data (serde) plus the code that fits and applies it;
//! none of them knows about files, HTTP or the command line.

pub mod classifier;
pub mod contribution;
pub mod lifetime;
pub mod offers;
pub mod rfm;
pub mod rules;
pub mod segment;
pub mod stats;
pub mod targets;
pub mod tree;
pub mod uplift;
pub mod value;
