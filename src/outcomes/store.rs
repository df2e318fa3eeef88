//! What a store of contacts and outcomes does, whichever database holds them. Both back
//! ends apply the same versioned SQL files in order and record each in `schema_version`.

use super::contacts::Contact;
use super::events::Event;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The SQLite file used when no `--outcomes-db` is given, inside the models folder.
pub const DEFAULT_DB: &str = "outcomes.db";

/// The schema, one file per version, applied in this order (never edit one that shipped:
/// add the next).
pub const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "contacts_and_events",
    include_str!("migrations/0001_contacts_and_events.sql"),
)];

/// Where events go in one insert: enough to amortise a transaction, few enough that
/// PostgreSQL's 65,535 bind parameters are never reached.
pub const INSERT_CHUNK: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("outcomes database {location}")]
    Sqlite {
        location: String,
        source: rusqlite::Error,
    },
    #[error("outcomes database {location}")]
    Postgres {
        location: String,
        source: postgres::Error,
    },
    #[error("outcomes database {location}: schema version {found} is newer than this custscore knows ({known}); use a newer custscore")]
    NewerSchema {
        location: String,
        found: i64,
        known: i64,
    },
    #[error("outcomes database {location}: cannot create its folder")]
    Folder {
        location: String,
        source: std::io::Error,
    },
}

/// Every contact of a campaign (?1) with the count of its events of one type (?2) and
/// the sum of all its events' values. Portable SQL; PostgreSQL spells the parameters `$N`.
pub const CAMPAIGN_QUERY_SQLITE: &str =
    "SELECT c.model_version, c.arm, c.churn_probability, c.risk_band,
        (SELECT COUNT(*) FROM outcome_events e
          WHERE e.campaign = c.campaign AND e.customer_id = c.customer_id
            AND e.event_type = ?2),
        (SELECT COALESCE(SUM(e.value), 0.0) FROM outcome_events e
          WHERE e.campaign = c.campaign AND e.customer_id = c.customer_id)
     FROM contacts c WHERE c.campaign = ?1";

/// Every contact of a campaign (?1) with its stored inputs and the count of its events of
/// one type (?2), in customer order: the rows `train --from-campaign` learns from.
pub const CAMPAIGN_INPUTS_QUERY_SQLITE: &str = "SELECT c.customer_id, c.arm, c.inputs,
        (SELECT COUNT(*) FROM outcome_events e
          WHERE e.campaign = c.campaign AND e.customer_id = c.customer_id
            AND e.event_type = ?2)
     FROM contacts c WHERE c.campaign = ?1 ORDER BY c.customer_id";

/// Every campaign with contacts.
pub const CAMPAIGNS_QUERY: &str = "SELECT DISTINCT campaign FROM contacts ORDER BY campaign";

/// A query with `?N` parameters spelled as PostgreSQL's `$N`.
pub fn postgres_parameters(sql: &str) -> String {
    sql.replace("?1", "$1").replace("?2", "$2")
}

/// [`CAMPAIGN_QUERY_SQLITE`] with PostgreSQL's parameters.
pub fn campaign_query_postgres() -> String {
    CAMPAIGN_QUERY_SQLITE
        .replace("?1", "$1")
        .replace("?2", "$2")
}

/// One contact of a campaign with what followed it, as evaluation reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactOutcome {
    pub model_version: String,
    pub arm: super::Arm,
    pub churn_probability: Option<f64>,
    pub risk_band: Option<String>,
    /// An event of the chosen type was recorded for this customer and campaign.
    pub outcome: bool,
    /// Sum of the values of every event of this customer in this campaign.
    pub value: f64,
}

/// One contact with the inputs it was scored on and whether an outcome followed.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactInputs {
    pub customer_id: String,
    pub arm: super::Arm,
    /// JSON object, input column → value, as scored.
    pub inputs: String,
    pub outcome: bool,
}

/// Contacts and outcome events, kept durable (every call commits before it returns).
pub trait Store: Send {
    /// Record contacts in one transaction; a customer already contacted in a campaign
    /// keeps the first contact. Returns how many were new.
    fn record_contacts(&mut self, contacts: &[Contact]) -> Result<usize, StoreError>;

    /// Store events in one transaction; an event whose key is already stored is skipped.
    /// Returns the keys that were new.
    fn record_events(&mut self, events: &[Event]) -> Result<HashSet<String>, StoreError>;

    /// Every contact of `campaign` with whether an `outcome_type` event followed.
    fn campaign(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactOutcome>, StoreError>;

    /// Every contact of `campaign` with its inputs and whether an `outcome_type` event
    /// followed, in customer order.
    fn campaign_inputs(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactInputs>, StoreError>;

    /// The names of every campaign with contacts.
    fn campaigns(&mut self) -> Result<Vec<String>, StoreError>;

    /// Stored (contacts, events) of a campaign.
    fn counts(&mut self, campaign: &str) -> Result<(u64, u64), StoreError>;

    /// The schema version the database is at.
    fn schema_version(&mut self) -> Result<i64, StoreError>;
}

/// Which database: a SQLite file, or a PostgreSQL server by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreLocation {
    /// `postgres://…` or `postgresql://…` is a server; anything else a SQLite file.
    /// Without an option, `outcomes.db` in the models folder.
    pub fn from_option(option: Option<&str>, models: &Path) -> Self {
        match option {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreLocation::Postgres(url.to_string())
            }
            Some(path) => StoreLocation::Sqlite(PathBuf::from(path)),
            None => StoreLocation::Sqlite(models.join(DEFAULT_DB)),
        }
    }

    /// For messages: the file, or the server without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.display().to_string(),
            StoreLocation::Postgres(url) => without_password(url),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user@host/db`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        None => url.to_string(),
    }
}

/// Open (and bring up to the current schema) the store at `location`.
pub fn open(location: &StoreLocation) -> Result<Box<dyn Store>, StoreError> {
    match location {
        StoreLocation::Sqlite(path) => Ok(Box::new(super::sqlite::SqliteStore::open(path)?)),
        StoreLocation::Postgres(url) => Ok(Box::new(super::postgres::PostgresStore::open(url)?)),
    }
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// The SQL statements of one migration file (split on `;` at line ends; the files hold
/// no procedural code).
pub fn statements(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(";\n")
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .map(|s| s.trim().trim_end_matches(';').to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_a_server_and_anything_else_a_file() {
        let models = Path::new("models");
        assert_eq!(
            StoreLocation::from_option(None, models),
            StoreLocation::Sqlite(PathBuf::from("models/outcomes.db"))
        );
        assert_eq!(
            StoreLocation::from_option(Some("x.db"), models),
            StoreLocation::Sqlite(PathBuf::from("x.db"))
        );
        let url = "postgres://app:secret@db:5432/loop";
        let location = StoreLocation::from_option(Some(url), models);
        assert_eq!(location, StoreLocation::Postgres(url.to_string()));
        assert_eq!(location.describe(), "postgres://app@db:5432/loop");
    }

    #[test]
    fn migration_files_split_into_their_statements() {
        let all: Vec<String> = statements(MIGRATIONS[0].2).collect();
        assert_eq!(all.len(), 3);
        assert!(all[0].starts_with("CREATE TABLE contacts"));
        assert!(all[2].starts_with("CREATE INDEX"));
        assert!(all.iter().all(|s| !s.contains("--") && !s.ends_with(';')));
    }
}
