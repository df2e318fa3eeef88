//! The embedded store: one SQLite file in WAL mode (readers never wait for the writer,
//! and a commit survives a crash of the process).

use super::contacts::{Arm, Contact};
use super::events::Event;
use super::store::{self, ContactInputs, ContactOutcome, Store, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;

pub struct SqliteStore {
    connection: Connection,
    location: String,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let location = path.display().to_string();
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                location: location.clone(),
                source,
            })?;
        }
        let connection = Connection::open(path).map_err(Self::error(&location))?;
        let mut store = SqliteStore {
            connection,
            location,
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// A failed statement's error, naming the database.
    fn error(location: &str) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
        move |source| StoreError::Sqlite {
            location: location.to_string(),
            source,
        }
    }

    /// WAL, and wait for another writer (a second process) instead of failing at once.
    /// `synchronous = NORMAL` in WAL mode keeps every commit across a process crash;
    /// only a power loss can take the last ones back.
    fn configure(&mut self) -> Result<(), StoreError> {
        let c = &self.connection;
        c.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(Self::error(&self.location))?;
        c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(Self::error(&self.location))?;
        c.execute_batch("PRAGMA synchronous = NORMAL;")
            .map_err(Self::error(&self.location))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        self.connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_version (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            )
            .map_err(error)?;
        // IMMEDIATE: two processes opening a new file at once migrate one after the other.
        let tx = self
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(error)?;
        let current: i64 = tx
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(error)?;
        if current > store::latest_version() {
            return Err(StoreError::NewerSchema {
                location,
                found: current,
                known: store::latest_version(),
            });
        }
        for (version, name, sql) in store::MIGRATIONS.iter().filter(|m| m.0 > current) {
            for statement in store::statements(sql) {
                tx.execute(&statement, []).map_err(error)?;
            }
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![version, name, super::contacts::now_utc()],
            )
            .map_err(error)?;
        }
        tx.commit().map_err(error)
    }
}

impl Store for SqliteStore {
    fn record_contacts(&mut self, contacts: &[Contact]) -> Result<usize, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let tx = self.connection.transaction().map_err(error)?;
        let mut new = 0;
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO contacts (campaign, customer_id, contacted_at, model_version,
                        arm, churn_probability, risk_band, segment, segment_name, offers, inputs)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(error)?;
            for c in contacts {
                new += insert
                    .execute(params![
                        c.campaign,
                        c.customer_id,
                        c.contacted_at,
                        c.model_version,
                        c.arm.as_str(),
                        c.churn_probability,
                        c.risk_band,
                        c.segment as i64,
                        c.segment_name,
                        c.offers,
                        c.inputs
                    ])
                    .map_err(error)?;
            }
        }
        tx.commit().map_err(error)?;
        Ok(new)
    }

    fn record_events(&mut self, events: &[Event]) -> Result<HashSet<String>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let tx = self.connection.transaction().map_err(error)?;
        let mut new = HashSet::new();
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO outcome_events (event_key, campaign, customer_id, event_type,
                        occurred_at, value)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(error)?;
            for e in events {
                let inserted = insert
                    .execute(params![
                        e.key,
                        e.campaign,
                        e.customer_id,
                        e.event_type,
                        e.time,
                        e.value
                    ])
                    .map_err(error)?;
                if inserted > 0 {
                    new.insert(e.key.clone());
                }
            }
        }
        tx.commit().map_err(error)?;
        Ok(new)
    }

    fn campaign(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactOutcome>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let mut query = self
            .connection
            .prepare(store::CAMPAIGN_QUERY_SQLITE)
            .map_err(error)?;
        let rows = query
            .query_map(params![campaign, outcome_type], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<f64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                ))
            })
            .map_err(error)?;
        let mut out = Vec::new();
        for row in rows {
            let (model_version, arm, churn_probability, risk_band, outcome, value) =
                row.map_err(error)?;
            out.push(ContactOutcome {
                model_version,
                arm: Arm::parse(&arm).unwrap_or(Arm::Treatment),
                churn_probability,
                risk_band,
                outcome: outcome > 0,
                value,
            });
        }
        Ok(out)
    }

    fn campaign_inputs(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactInputs>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let mut query = self
            .connection
            .prepare(store::CAMPAIGN_INPUTS_QUERY_SQLITE)
            .map_err(error)?;
        let rows = query
            .query_map(params![campaign, outcome_type], |r| {
                Ok(ContactInputs {
                    customer_id: r.get(0)?,
                    arm: Arm::parse(&r.get::<_, String>(1)?).unwrap_or(Arm::Treatment),
                    inputs: r.get(2)?,
                    outcome: r.get::<_, i64>(3)? > 0,
                })
            })
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    fn campaigns(&mut self) -> Result<Vec<String>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let mut query = self
            .connection
            .prepare(store::CAMPAIGNS_QUERY)
            .map_err(error)?;
        let rows = query.query_map([], |r| r.get(0)).map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    fn counts(&mut self, campaign: &str) -> Result<(u64, u64), StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let count = |sql: &str| -> Result<u64, StoreError> {
            self.connection
                .query_row(sql, params![campaign], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(error)
        };
        Ok((
            count("SELECT COUNT(*) FROM contacts WHERE campaign = ?1")?,
            count("SELECT COUNT(*) FROM outcome_events WHERE campaign = ?1")?,
        ))
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        self.connection
            .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .optional()
            .map(|v| v.flatten().unwrap_or(0))
            .map_err(Self::error(&self.location))
    }
}
