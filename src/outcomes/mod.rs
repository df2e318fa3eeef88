//! The closed loop: contacts (who was acted on, in which arm, with the features and
//! scores of that moment), outcome events (what happened afterwards), the store that
//! keeps both (SQLite by default, PostgreSQL by URL) and the evaluation of a campaign
//! (realized AUC and lift, treatment against control).

pub mod contact_input;
pub mod contacts;
pub mod evaluate;
pub mod events;
pub mod import;
pub mod postgres;
pub mod realized;
pub mod sqlite;
pub mod store;
pub mod training;
pub mod uplift;

pub use contacts::{Arm, Campaign, Contact};
pub use evaluate::{evaluate, CampaignReport};
pub use events::{Event, EventError, EventInput};
pub use store::{open, ContactOutcome, Store, StoreError, StoreLocation, DEFAULT_DB};
