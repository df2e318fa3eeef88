//! The server store: PostgreSQL through the synchronous `postgres` client (the service
//! calls it on its blocking pool). Same schema files as SQLite; events go in multi-row
//! inserts, one transaction per call.

use super::contacts::{Arm, Contact};
use super::events::Event;
use super::store::{self, ContactInputs, ContactOutcome, Store, StoreError, INSERT_CHUNK};
use postgres::types::ToSql;
use postgres::{Client, NoTls};
use std::collections::HashSet;

pub struct PostgresStore {
    client: Client,
    url: String,
    location: String,
}

/// A connection holding this advisory lock is migrating; others wait for it.
const MIGRATION_LOCK: i64 = 0x6375_7374_7363_6f72;

impl PostgresStore {
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let location = super::StoreLocation::Postgres(url.to_string()).describe();
        let client = Client::connect(url, NoTls).map_err(|source| StoreError::Postgres {
            location: location.clone(),
            source,
        })?;
        let mut store = PostgresStore {
            client,
            url: url.to_string(),
            location,
        };
        store.migrate()?;
        Ok(store)
    }

    fn error(location: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |source| StoreError::Postgres {
            location: location.to_string(),
            source,
        }
    }

    /// The connection, opened again if the server closed it (a restart, a failover), so a
    /// long-running service recovers without a restart of its own.
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        if self.client.is_closed() {
            self.client = Client::connect(&self.url, NoTls).map_err(Self::error(&self.location))?;
        }
        Ok(&mut self.client)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let error = Self::error(&self.location);
        let mut tx = self.client.transaction().map_err(&error)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(&error)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version (
                version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(&error)?;
        let current: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(&error)?
            .get(0);
        let current = i64::from(current);
        if current > store::latest_version() {
            return Err(StoreError::NewerSchema {
                location: self.location.clone(),
                found: current,
                known: store::latest_version(),
            });
        }
        for (version, name, sql) in store::MIGRATIONS.iter().filter(|m| m.0 > current) {
            for statement in store::statements(sql) {
                tx.batch_execute(&statement).map_err(&error)?;
            }
            let version = *version as i32;
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&version, name, &super::contacts::now_utc()],
            )
            .map_err(&error)?;
        }
        tx.commit().map_err(&error)
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…) … ON CONFLICT DO NOTHING` for `rows`.
fn multi_row_insert(table_and_columns: &str, columns: usize, rows: usize, tail: &str) -> String {
    let mut sql = format!("INSERT INTO {table_and_columns} VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", row * columns + column + 1));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT DO NOTHING ");
    sql.push_str(tail);
    sql
}

impl Store for PostgresStore {
    fn record_contacts(&mut self, contacts: &[Contact]) -> Result<usize, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let mut tx = self.client()?.transaction().map_err(&error)?;
        let mut new = 0;
        for chunk in contacts.chunks(INSERT_CHUNK / 2) {
            let sql = multi_row_insert(
                "contacts (campaign, customer_id, contacted_at, model_version, arm,
                    churn_probability, risk_band, segment, segment_name, offers, inputs)",
                11,
                chunk.len(),
                "",
            );
            let rows: Vec<(i32, &str)> = chunk
                .iter()
                .map(|c| (c.segment as i32, c.arm.as_str()))
                .collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 11);
            for (c, (segment, arm)) in chunk.iter().zip(&rows) {
                params.extend_from_slice(&[
                    &c.campaign,
                    &c.customer_id,
                    &c.contacted_at,
                    &c.model_version,
                    arm,
                    &c.churn_probability,
                    &c.risk_band,
                    segment,
                    &c.segment_name,
                    &c.offers,
                    &c.inputs,
                ]);
            }
            new += tx.execute(&sql, &params).map_err(&error)? as usize;
        }
        tx.commit().map_err(&error)?;
        Ok(new)
    }

    fn record_events(&mut self, events: &[Event]) -> Result<HashSet<String>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let mut tx = self.client()?.transaction().map_err(&error)?;
        let mut new = HashSet::new();
        for chunk in events.chunks(INSERT_CHUNK) {
            let sql = multi_row_insert(
                "outcome_events (event_key, campaign, customer_id, event_type, occurred_at, value)",
                6,
                chunk.len(),
                "RETURNING event_key",
            );
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 6);
            for e in chunk {
                params.extend_from_slice(&[
                    &e.key,
                    &e.campaign,
                    &e.customer_id,
                    &e.event_type,
                    &e.time,
                    &e.value,
                ]);
            }
            for row in tx.query(&sql, &params).map_err(&error)? {
                new.insert(row.get::<_, String>(0));
            }
        }
        tx.commit().map_err(&error)?;
        Ok(new)
    }

    fn campaign(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactOutcome>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let rows = self
            .client()?
            .query(
                &store::campaign_query_postgres(),
                &[&campaign, &outcome_type],
            )
            .map_err(&error)?;
        Ok(rows
            .iter()
            .map(|r| ContactOutcome {
                model_version: r.get(0),
                arm: Arm::parse(r.get(1)).unwrap_or(Arm::Treatment),
                churn_probability: r.get(2),
                risk_band: r.get(3),
                outcome: r.get::<_, i64>(4) > 0,
                value: r.get(5),
            })
            .collect())
    }

    fn campaign_inputs(
        &mut self,
        campaign: &str,
        outcome_type: &str,
    ) -> Result<Vec<ContactInputs>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let rows = self
            .client()?
            .query(
                &store::postgres_parameters(store::CAMPAIGN_INPUTS_QUERY_SQLITE),
                &[&campaign, &outcome_type],
            )
            .map_err(&error)?;
        Ok(rows
            .iter()
            .map(|r| ContactInputs {
                customer_id: r.get(0),
                arm: Arm::parse(r.get(1)).unwrap_or(Arm::Treatment),
                inputs: r.get(2),
                outcome: r.get::<_, i64>(3) > 0,
            })
            .collect())
    }

    fn campaigns(&mut self) -> Result<Vec<String>, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let rows = self
            .client()?
            .query(store::CAMPAIGNS_QUERY, &[])
            .map_err(&error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn counts(&mut self, campaign: &str) -> Result<(u64, u64), StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let client = self.client()?;
        let mut count = |sql: &str| -> Result<u64, StoreError> {
            let row = client.query_one(sql, &[&campaign]).map_err(&error)?;
            Ok(row.get::<_, i64>(0) as u64)
        };
        Ok((
            count("SELECT COUNT(*) FROM contacts WHERE campaign = $1")?,
            count("SELECT COUNT(*) FROM outcome_events WHERE campaign = $1")?,
        ))
    }

    fn schema_version(&mut self) -> Result<i64, StoreError> {
        let location = self.location.clone();
        let error = Self::error(&location);
        let row = self
            .client()?
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(&error)?;
        Ok(i64::from(row.get::<_, i32>(0)))
    }
}
