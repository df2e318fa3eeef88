//! Campaigns on the command line: `score --campaign`, `outcomes import`, `evaluate`.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn events_in(db: &Path) -> i64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection
        .query_row("SELECT COUNT(*) FROM outcome_events", [], |r| r.get(0))
        .unwrap()
}

fn score_campaign(
    models: &Path,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["--campaign", "spring", "--control-share", "0.1"];
    args.extend_from_slice(extra);
    let out = score_with(models, input, output, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn column(rows: &[csv::StringRecord], header: &csv::StringRecord, name: &str) -> Vec<String> {
    let at = header.iter().position(|h| h == name).unwrap();
    rows.iter().map(|r| r[at].to_string()).collect()
}

fn header(path: &Path) -> csv::StringRecord {
    csv::Reader::from_path(path)
        .unwrap()
        .headers()
        .unwrap()
        .clone()
}

#[test]
fn a_customer_stays_in_the_same_arm_and_keeps_the_first_contact() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = fixture("telco_400.csv");
    let first = dir.path().join("first.csv");
    let out = score_campaign(&models, &input, &first, &[]);
    assert!(
        stderr(&out).contains("(400 contacts new"),
        "{}",
        stderr(&out)
    );
    let second = dir.path().join("second.csv");
    let out = score_campaign(&models, &input, &second, &[]);
    assert!(stderr(&out).contains("(0 contacts new"), "{}", stderr(&out));
    let h = header(&first);
    assert_eq!(
        &h.iter().rev().take(2).collect::<Vec<_>>(),
        &["arm", "campaign"]
    );
    let arms = column(&csv_rows(&first), &h, "arm");
    assert_eq!(arms, column(&csv_rows(&second), &h, "arm"));
    let control = arms.iter().filter(|a| *a == "control").count();
    assert!((20..=65).contains(&control), "{control} of 400 in control");
    assert!(arms.iter().all(|a| a == "control" || a == "treatment"));
    // JSON Lines show the arm in the answer, the same arm as the CSV.
    let jsonl = dir.path().join("third.jsonl");
    score_campaign(&models, &input, &jsonl, &["--format", "jsonl"]);
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let first_answer: serde_json::Value =
        serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first_answer["contact"]["campaign"], "spring");
    assert_eq!(first_answer["contact"]["arm"], arms[0].as_str());
    // Contacts keep the scores and the inputs as scored.
    let connection = rusqlite::Connection::open(models.join("outcomes.db")).unwrap();
    let (n, inputs): (i64, String) = connection
        .query_row(
            "SELECT COUNT(*), MAX(inputs) FROM contacts WHERE campaign = 'spring'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, 400);
    let inputs: serde_json::Value = serde_json::from_str(&inputs).unwrap();
    assert!(
        inputs["tenure"].is_number() && inputs["contract"].is_string(),
        "{inputs}"
    );
    // Without --campaign the output has no arm and nothing is recorded.
    let plain = dir.path().join("plain.csv");
    score_file(&models, &input, &plain);
    assert!(!header(&plain).iter().any(|h| h == "arm"));
}

#[test]
fn a_bad_campaign_or_control_share_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = fixture("telco_400.csv");
    let output = dir.path().join("out.csv");
    for (campaign, share, needle) in [
        ("spring", "1.5", "control share 1.5"),
        ("  ", "0.1", "campaign name"),
    ] {
        let out = score_with(
            &models,
            &input,
            &output,
            &["--campaign", campaign, "--control-share", share],
        );
        assert_fails_with(&out, &[needle]);
    }
    let out = run(&[
        "evaluate",
        "--campaign",
        "x",
        "--outcome",
        "bought",
        "--models",
        models.to_str().unwrap(),
    ]);
    assert_fails_with(&out, &["--outcome bought", "responded"]);
}

#[test]
fn bad_events_are_refused_by_line_and_field_and_the_rest_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let csv_file = write(
        dir.path(),
        "events.csv",
        b"key,campaign,customer_id,type,time,value\n\
          k1,spring,1,responded,2024-06-01,\n\
          ,spring,2,purchased,2024-06-01T10:00:00Z,30.5\n\
          k3,spring,3,bought,2024-06-01,\n\
          k4,spring,4,churned,someday,\n\
          k5,spring,5,purchased,2024-06-01,ten\n\
          k1,spring,1,responded,2024-06-01,\n",
    );
    let out = import_outcomes(&models, &csv_file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("events read 6, stored 2, already stored 1, refused 3"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    for needle in [
        "events.csv: line 4: field `type`",
        "line 5: field `time`",
        "line 6: field `value`",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // The same events as JSON Lines (no extension to go by): the derived key of the
    // keyless event matches, so nothing new is stored.
    let jsonl = write(
        dir.path(),
        "events.txt",
        b"{\"key\":\"k1\",\"campaign\":\"spring\",\"customer_id\":1,\"type\":\"responded\",\"time\":\"2024-06-01\"}\n\
          {\"campaign\":\"spring\",\"customer_id\":\"2\",\"type\":\"purchased\",\"time\":\"2024-06-01T12:00:00+02:00\",\"value\":30.5}\n\
          \n\
          {\"campaign\":\"spring\",\"customer_id\":[2]}\n\
          not json\n",
    );
    let out = import_outcomes(&models, &jsonl, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("events read 4, stored 0, already stored 2, refused 2"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("line 4: field `customer_id`") && err.contains("line 5: invalid JSON"),
        "{err}"
    );
    assert_eq!(events_in(&models.join("outcomes.db")), 2);
    // A file without the needed columns is refused as a whole.
    let bad = write(dir.path(), "bad.csv", b"campaign,customer\nspring,1\n");
    let out = import_outcomes(&models, &bad, &[]);
    assert_fails_with(&out, &["bad.csv: line 1", "no column named `customer_id`"]);
}

#[test]
fn contacts_made_elsewhere_are_imported_once_with_per_row_errors() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let file = write(
        dir.path(),
        "contacts.csv",
        b"campaign,customer_id,time,arm,model_version,churn_probability,tenure\n\
          autumn,1,2024-09-01,treatment,crm-7,0.4,12\n\
          autumn,2,2024-09-01,holdout,crm-7,0.3,5\n\
          autumn,3,2024-09-01,control,crm-7,1.7,8\n\
          autumn,4,2024-09-01T08:00:00Z,control,crm-7,,\n",
    );
    let import = || import_outcomes(&models, &file, &["--contacts"]);
    let out = import();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("contacts read 4, stored 2, already stored 0, refused 2"),
        "{}",
        stdout(&out)
    );
    let err = stderr(&out);
    for needle in [
        "contacts.csv: line 3: field `arm`",
        "contacts.csv: line 4: field `churn_probability`",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let out = import();
    assert!(
        stdout(&out).contains("contacts read 4, stored 0, already stored 2, refused 2"),
        "{}",
        stdout(&out)
    );
    let connection = rusqlite::Connection::open(models.join("outcomes.db")).unwrap();
    let stored: i64 = connection
        .query_row(
            "SELECT COUNT(*) FROM contacts WHERE campaign = 'autumn'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 2);
}

/// The simulation draws churn from each contact's probability, cut by 30% for treated
/// customers, and responses at 5% (control) or 15% (treated) worth 50 on average. With a
/// fixed seed the draws are fixed; each 95% interval misses its true effect for about one
/// seed in twenty, and seed 1 is not such a seed.
#[test]
fn a_telco_campaign_measures_the_effect_the_simulation_put_in() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = repo().join("training-data/telco_churn.csv");
    let scored = dir.path().join("scored.csv");
    score_campaign(&models, &input, &scored, &[]);
    let events = dir.path().join("events.csv");
    let simulated = Command::new("python3")
        .arg(repo().join("scripts/simulate_outcomes.py"))
        .args([
            "--scored",
            scored.to_str().unwrap(),
            "--output",
            events.to_str().unwrap(),
        ])
        .args([
            "--seed",
            "1",
            "--churn-reduction",
            "0.3",
            "--base-response",
            "0.05",
        ])
        .args(["--response-effect", "0.1", "--value-mean", "50"])
        .output()
        .expect("python3 runs scripts/simulate_outcomes.py");
    assert!(simulated.status.success(), "{}", stderr(&simulated));
    let stated: serde_json::Value = serde_json::from_slice(&simulated.stdout).unwrap();
    let out = import_outcomes(&models, &events, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let evaluate = |outcome: &str| -> serde_json::Value {
        let out = run(&[
            "evaluate",
            "--campaign",
            "spring",
            "--outcome",
            outcome,
            "--json",
            "--models",
            models.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    let contains = |ci: &serde_json::Value, x: f64| {
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        assert!(lo <= x && x <= hi, "{x} not in [{lo}, {hi}]");
        assert!(
            hi < 0.0 || lo > 0.0,
            "the effect is large enough to be told from 0: [{lo}, {hi}]"
        );
    };
    let churn = evaluate("churned");
    assert_eq!(churn["contacts"], 7043);
    let control = churn["control"]["contacts"].as_u64().unwrap();
    assert!(
        (600..=810).contains(&control),
        "{control} of 7043 in control"
    );
    contains(
        &churn["effect"]["rate_difference_ci"],
        stated["churned_difference"].as_f64().unwrap(),
    );
    assert!(churn["effect"]["p_value"].as_f64().unwrap() < 0.001);
    // Churn drawn from the scores themselves: the realized AUC is the model's own ranking.
    let auc = churn["versions"][0]["auc_control"].as_f64().unwrap();
    assert!(auc > 0.75, "realized AUC {auc}");
    let deciles = churn["versions"][0]["deciles"].as_array().unwrap();
    assert!(deciles[0]["lift"].as_f64().unwrap() > 2.0);
    let responded = evaluate("responded");
    contains(
        &responded["effect"]["rate_difference_ci"],
        stated["responded_difference"].as_f64().unwrap(),
    );
    contains(
        &responded["effect"]["value_difference_ci"],
        stated["value_difference"].as_f64().unwrap(),
    );
}

/// Write `n` distinct events, each of the first `repeats` written twice.
fn write_events(path: &Path, n: usize, repeats: usize) -> usize {
    let mut text = String::from("campaign,customer_id,type,time,value\n");
    for i in 0..n {
        let line = format!(
            "load,{},purchased,2024-06-01T{:02}:{:02}:00Z,{}.5\n",
            i % 5000,
            (i / 5000) % 24,
            (i / 120_000) % 60,
            i % 97
        );
        text.push_str(&line);
        if i < repeats {
            text.push_str(&line);
        }
    }
    std::fs::write(path, text).unwrap();
    n
}

/// The stored count once it stops moving. PostgreSQL completes a COMMIT it has received
/// even when the client is killed while waiting for the answer, so a batch can land just
/// after the kill.
fn settled(count: &dyn Fn() -> i64) -> i64 {
    let mut last = count();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = count();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// kill -9 in the middle of an import, then the whole file again: every event is stored
/// exactly once (committed batches survive, the interrupted one is rolled back).
fn import_killed_then_resent(dir: &Path, db_option: &str, count: &dyn Fn() -> i64) {
    let file = dir.join("events.csv");
    let distinct = write_events(&file, 100_000, 3_000);
    let import = |file: &Path| {
        let mut command = Command::new(BIN);
        command.args([
            "outcomes",
            "import",
            file.to_str().unwrap(),
            "--outcomes-db",
            db_option,
        ]);
        command
    };
    let mut child = import(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill once some batches are committed, well before the end.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() && count() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = settled(count);
    assert!(
        at_kill > 0 && (at_kill as usize) < distinct,
        "killed with {at_kill} of {distinct} stored"
    );
    let out = import(&file).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(count() as usize, distinct);
    let summary = stdout(&out);
    assert!(
        summary.contains(&format!("stored {}", distinct - at_kill as usize)),
        "{summary}"
    );
}

#[test]
fn an_import_killed_midway_and_sent_again_stores_each_event_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("outcomes.db");
    let count = || {
        rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row("SELECT COUNT(*) FROM outcome_events", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .unwrap_or(0)
    };
    import_killed_then_resent(dir.path(), db.to_str().unwrap(), &count);
}

#[test]
fn an_import_killed_midway_and_sent_again_stores_each_event_once_on_postgres() {
    if common::postgres::skipped(
        "an_import_killed_midway_and_sent_again_stores_each_event_once_on_postgres",
    ) {
        return;
    }
    let pg = common::postgres::Postgres::start();
    let url = pg.database("import");
    let dir = tempfile::tempdir().unwrap();
    let count = || {
        ::postgres::Client::connect(&url, ::postgres::NoTls)
            .and_then(|mut c| c.query_one("SELECT COUNT(*) FROM outcome_events", &[]))
            .map(|row| row.get::<_, i64>(0))
            .unwrap_or(0)
    };
    import_killed_then_resent(dir.path(), &url, &count);
}
