//! One store test suite, run against SQLite and against a real PostgreSQL server.

mod common;

use custscore::outcomes::import::{import_contacts_file, import_file};
use custscore::outcomes::store::{latest_version, INSERT_CHUNK};
use custscore::outcomes::{open, Arm, Contact, Event, StoreLocation};

fn contact(campaign: &str, id: &str, arm: Arm, p: f64) -> Contact {
    Contact {
        campaign: campaign.into(),
        customer_id: id.into(),
        contacted_at: "2024-05-01T00:00:00.000Z".into(),
        model_version: "v1".into(),
        arm,
        churn_probability: Some(p),
        risk_band: Some("high".into()),
        segment: 2,
        segment_name: "young, month-to-month".into(),
        offers: "tech_support;online_backup".into(),
        inputs: r#"{"tenure":3,"contract":"Month-to-month"}"#.into(),
    }
}

fn event(key: &str, campaign: &str, id: &str, kind: &str, value: Option<f64>) -> Event {
    Event {
        key: key.into(),
        campaign: campaign.into(),
        customer_id: id.into(),
        event_type: kind.into(),
        time: "2024-06-01T00:00:00Z".into(),
        value,
    }
}

/// Every check, each on a fresh database from `fresh(name)`.
fn suite(fresh: &mut dyn FnMut(&str) -> StoreLocation) {
    migrations_are_applied_once(fresh("migrations"));
    events_are_stored_once(fresh("events"));
    the_first_contact_of_a_campaign_wins(fresh("contacts"));
    a_campaign_joins_its_contacts_with_their_outcomes(fresh("join"));
    large_batches_are_stored_whole(fresh("large"));
    contacts_from_a_file_are_stored_once_and_join_their_outcomes(fresh("contacts_file"));
}

fn migrations_are_applied_once(location: StoreLocation) {
    let mut store = open(&location).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    store
        .record_events(&[event("k1", "c", "1", "responded", None)])
        .unwrap();
    drop(store);
    let mut again = open(&location).unwrap();
    assert_eq!(again.schema_version().unwrap(), latest_version());
    assert_eq!(
        again.counts("c").unwrap(),
        (0, 1),
        "reopening keeps the data"
    );
}

fn events_are_stored_once(location: StoreLocation) {
    let mut store = open(&location).unwrap();
    let batch = vec![
        event("a", "c", "1", "responded", None),
        event("b", "c", "2", "purchased", Some(20.0)),
        event("a", "c", "1", "responded", None), // the same key twice in one batch
    ];
    let new = store.record_events(&batch).unwrap();
    assert_eq!(new.len(), 2);
    assert!(new.contains("a") && new.contains("b"));
    assert!(
        store.record_events(&batch).unwrap().is_empty(),
        "a resend stores nothing"
    );
    assert_eq!(store.counts("c").unwrap(), (0, 2));
    assert!(store.record_events(&[]).unwrap().is_empty());
}

fn the_first_contact_of_a_campaign_wins(location: StoreLocation) {
    let mut store = open(&location).unwrap();
    assert_eq!(
        store
            .record_contacts(&[contact("c", "1", Arm::Control, 0.7)])
            .unwrap(),
        1
    );
    let later = [
        contact("c", "1", Arm::Treatment, 0.2),
        contact("c", "2", Arm::Treatment, 0.4),
    ];
    assert_eq!(store.record_contacts(&later).unwrap(), 1);
    assert_eq!(
        store
            .record_contacts(&[contact("other", "1", Arm::Treatment, 0.2)])
            .unwrap(),
        1
    );
    let rows = store.campaign("c", "churned").unwrap();
    assert_eq!(rows.len(), 2);
    let first = rows.iter().find(|r| r.arm == Arm::Control).unwrap();
    assert_eq!(first.churn_probability, Some(0.7));
    assert_eq!(first.risk_band.as_deref(), Some("high"));
    assert_eq!(first.model_version, "v1");
}

fn a_campaign_joins_its_contacts_with_their_outcomes(location: StoreLocation) {
    let mut store = open(&location).unwrap();
    store
        .record_contacts(&[
            contact("c", "1", Arm::Treatment, 0.9),
            contact("c", "2", Arm::Treatment, 0.5),
            contact("c", "3", Arm::Control, 0.1),
        ])
        .unwrap();
    store
        .record_events(&[
            event("e1", "c", "1", "churned", None),
            event("e2", "c", "2", "purchased", Some(30.0)),
            event("e3", "c", "2", "purchased", Some(12.5)),
            event("e4", "other", "3", "churned", None), // another campaign's event
            event("e5", "c", "9", "churned", None),     // nobody contacted
        ])
        .unwrap();
    let mut rows = store.campaign("c", "churned").unwrap();
    rows.sort_by(|a, b| {
        b.churn_probability
            .partial_cmp(&a.churn_probability)
            .unwrap()
    });
    let seen: Vec<(bool, f64)> = rows.iter().map(|r| (r.outcome, r.value)).collect();
    assert_eq!(seen, vec![(true, 0.0), (false, 42.5), (false, 0.0)]);
    let bought: Vec<bool> = {
        let mut rows = store.campaign("c", "purchased").unwrap();
        rows.sort_by(|a, b| {
            b.churn_probability
                .partial_cmp(&a.churn_probability)
                .unwrap()
        });
        rows.iter().map(|r| r.outcome).collect()
    };
    assert_eq!(bought, vec![false, true, false]);
    assert!(store.campaign("nobody", "churned").unwrap().is_empty());
}

/// Contacts made elsewhere (JSON Lines with `inputs`, and a CSV whose other columns are
/// the inputs), imported twice, then outcomes: the second import stores nothing, and
/// training sees the inputs and outcomes joined.
fn contacts_from_a_file_are_stored_once_and_join_their_outcomes(location: StoreLocation) {
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("contacts.jsonl");
    std::fs::write(
        &jsonl,
        "{\"campaign\":\"ext\",\"customer_id\":\"1\",\"time\":\"2024-05-01\",\"arm\":\"treatment\",\"model_version\":\"crm-7\",\"churn_probability\":0.8,\"inputs\":{\"tenure\":3,\"contract\":\"Month-to-month\"}}\n\
         {\"campaign\":\"ext\",\"customer_id\":\"2\",\"time\":\"2024-05-01\",\"arm\":\"sideways\",\"model_version\":\"crm-7\"}\n",
    )
    .unwrap();
    let csv = dir.path().join("contacts.csv");
    std::fs::write(
        &csv,
        "campaign,customer_id,time,arm,model_version,tenure,contract\n\
         ext,3,2024-05-01,control,crm-7,40,Two year\n\
         ext,1,2024-05-02,control,crm-8,5,One year\n",
    )
    .unwrap();
    let mut store = open(&location).unwrap();
    let first = import_contacts_file(store.as_mut(), &jsonl).unwrap();
    assert_eq!((first.read, first.stored, first.refused), (2, 1, 1));
    assert_eq!(first.errors[0].at, "line 2");
    assert_eq!(first.errors[0].field.as_deref(), Some("arm"));
    let second = import_contacts_file(store.as_mut(), &csv).unwrap();
    assert_eq!(
        (second.stored, second.duplicates),
        (1, 1),
        "customer 1 keeps the first contact"
    );
    let again = import_contacts_file(store.as_mut(), &csv).unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2));
    let events = dir.path().join("events.csv");
    std::fs::write(
        &events,
        "campaign,customer_id,type,time\next,1,responded,2024-05-09\n",
    )
    .unwrap();
    assert_eq!(import_file(store.as_mut(), &events).unwrap().stored, 1);
    let rows = store.campaign_inputs("ext", "responded").unwrap();
    let seen: Vec<(&str, Arm, bool)> = (rows.iter())
        .map(|r| (r.customer_id.as_str(), r.arm, r.outcome))
        .collect();
    assert_eq!(
        seen,
        [("1", Arm::Treatment, true), ("3", Arm::Control, false)]
    );
    let inputs: serde_json::Value = serde_json::from_str(&rows[1].inputs).unwrap();
    assert_eq!(
        inputs,
        serde_json::json!({"tenure": 40.0, "contract": "Two year"})
    );
}

fn large_batches_are_stored_whole(location: StoreLocation) {
    let mut store = open(&location).unwrap();
    let n = INSERT_CHUNK * 2 + 17;
    let events: Vec<Event> = (0..n)
        .map(|i| {
            event(
                &format!("k{i}"),
                "big",
                &i.to_string(),
                "responded",
                Some(i as f64),
            )
        })
        .collect();
    assert_eq!(store.record_events(&events).unwrap().len(), n);
    let contacts: Vec<Contact> = (0..n)
        .map(|i| contact("big", &i.to_string(), Arm::Treatment, 0.5))
        .collect();
    assert_eq!(store.record_contacts(&contacts).unwrap(), n);
    assert_eq!(store.counts("big").unwrap(), (n as u64, n as u64));
    let rows = store.campaign("big", "responded").unwrap();
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r.outcome));
    let total: f64 = rows.iter().map(|r| r.value).sum();
    assert_eq!(total, (0..n).map(|i| i as f64).sum::<f64>());
}

#[test]
fn the_store_suite_passes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&mut |name| StoreLocation::Sqlite(dir.path().join(format!("{name}.db"))));
}

#[test]
fn the_store_suite_passes_on_postgres() {
    if common::postgres::skipped("the_store_suite_passes_on_postgres") {
        return;
    }
    let server = common::postgres::Postgres::start();
    suite(&mut |name| StoreLocation::Postgres(server.database(name)));
    a_dropped_connection_is_opened_again(&server.database("dropped"));
}

/// The server closes the connection (as a restart would): the call that meets the closed
/// connection fails, the next one connects again.
fn a_dropped_connection_is_opened_again(url: &str) {
    let mut store = open(&StoreLocation::Postgres(url.to_string())).unwrap();
    store
        .record_events(&[event("before", "c", "1", "responded", None)])
        .unwrap();
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let first = store.record_events(&[event("after", "c", "1", "responded", None)]);
    if let Err(e) = first {
        assert!(
            e.to_string().starts_with("outcomes database postgres://"),
            "{e}"
        );
        store
            .record_events(&[event("after", "c", "1", "responded", None)])
            .unwrap();
    }
    assert_eq!(store.counts("c").unwrap(), (0, 2));
}

#[test]
fn sqlite_runs_in_wal_mode_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/folder/o.db");
    drop(open(&StoreLocation::Sqlite(path.clone())).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    let mode: String = connection
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    connection
        .execute(
            "INSERT INTO schema_version VALUES (?1, 'from the future', '2099-01-01')",
            [latest_version() + 1],
        )
        .unwrap();
    let error = open(&StoreLocation::Sqlite(path))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("newer than this custscore knows"), "{error}");
}

#[test]
fn an_unreachable_postgres_server_is_a_clear_error() {
    let port = common::http::free_port();
    let url = format!("postgres://nobody:secret@127.0.0.1:{port}/none");
    let error = open(&StoreLocation::Postgres(url))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.starts_with(&format!(
            "outcomes database postgres://nobody@127.0.0.1:{port}/none"
        )),
        "{error}"
    );
    assert!(!error.contains("secret"), "{error}");
}
