//! `custscore score` on real files: a round trip against in-memory scoring, a corpus of
//! broken input files (input rows = output rows + rejected rows on each), and bundles
//! that must be refused.

mod common;
use common::*;
use custscore::bundle::Bundle;
use custscore::features::Value;
use custscore::numfmt::fixed;
use custscore::score::Scorer;
use std::borrow::Cow;
use std::path::Path;

fn score(
    models: &Path,
    input: &Path,
    dir: &Path,
) -> (
    std::process::Output,
    Vec<csv::StringRecord>,
    Vec<csv::StringRecord>,
) {
    let output = dir.join("scored.csv");
    let rejects = dir.join("rejects.csv");
    let out = score_with(
        models,
        input,
        &output,
        &["--rejects", rejects.to_str().unwrap()],
    );
    if !out.status.success() {
        return (out, Vec::new(), Vec::new());
    }
    (out, csv_rows(&output), csv_rows(&rejects))
}

#[test]
fn file_scores_equal_in_memory_scores_of_the_loaded_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let (out, scored, rejected) = score(&models, &fixture("telco_400.csv"), dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((scored.len(), rejected.len()), (400, 0));
    // The training file itself has not drifted from its own profile.
    assert!(
        stderr(&out).contains(
            "drift from training (PSI alert at 0.25, warn at 0.1): alerts none; warnings none"
        ),
        "{}",
        stderr(&out)
    );

    let scorer = Scorer::new(Bundle::load(&models, None).unwrap());
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let names: Vec<String> = scorer.input_names().map(String::from).collect();
    for (record, row) in reader.records().zip(&scored) {
        let record = record.unwrap();
        let values: Vec<Value> = names
            .iter()
            .map(|n| {
                let at = header.iter().position(|h| h == n).unwrap();
                Value::Text(Cow::Owned(record[at].to_string()))
            })
            .collect();
        let answer = scorer
            .score(Cow::Owned(record[0].to_string()), values)
            .unwrap();
        assert_eq!(answer_fields(&answer), row.iter().collect::<Vec<_>>());
    }
}

/// The service's answer in the batch file's columns, built independently of the writer.
fn answer_fields(answer: &custscore::score::Answer) -> Vec<String> {
    let risk = answer.retention.as_ref();
    let field = |f: Option<String>| f.unwrap_or_default();
    vec![
        answer.id.clone(),
        answer.segment.id.to_string(),
        answer.segment.name.clone(),
        answer.segment.tier.clone(),
        field(risk.map(|r| fixed(r.probability, 4))),
        field(risk.map(|r| r.band.clone())),
        field(risk.map(|r| r.reasons.join("; "))),
        field(risk.and_then(|r| r.clv).map(|v| fixed(v, 2))),
        field(answer.segment.quadrant.clone()),
        answer
            .cross_sell
            .iter()
            .map(|o| o.item.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        answer.model_version.clone(),
        answer.warnings.join("; "),
    ]
}

#[test]
fn broken_input_files_lose_no_row() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let good = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let header = lines[0];
    let row = |i: usize| lines[i].to_string();
    let truncated = {
        let last = row(3);
        format!(
            "{header}\n{}\n{}\n{}",
            row(1),
            row(2),
            &last[..last.len() / 2]
        )
    };
    let bad_number = format!(
        "{header}\n{}\n{}\n",
        row(1),
        row(2).replacen(",34,", ",thirty,", 1)
    );
    let crlf = format!("{header}\r\n{}\r\n{}\r\n", row(1), row(2));
    let bom = format!("\u{feff}{header}\n{}\n{}\n", row(1), row(2));
    let quoted_newline = format!(
        "{header}\n{}\n{}\n",
        row(1),
        row(2).replacen("Mailed check", "\"Mailed\ncheck\"", 1)
    );
    let wrong_columns = format!("{header}\n{}\nA,B,C\n{},extra\n", row(1), row(2));
    let mut not_utf8 = format!("{header}\n{}\n", row(1)).into_bytes();
    not_utf8.extend_from_slice(&row(2).replacen("DSL", "D\u{0}SL", 1).into_bytes());
    not_utf8.extend_from_slice(b"\n\xff\xfe,No\n");
    // A row that is right in every way but one byte: it fails for that byte alone.
    let third = row(3);
    let dsl = third.find("DSL").unwrap() + 1;
    not_utf8.extend_from_slice(&third.as_bytes()[..dsl]);
    not_utf8.push(0xff);
    not_utf8.extend_from_slice(&third.as_bytes()[dsl..]);
    not_utf8.push(b'\n');
    // (file, rows in, rows rejected, a reason that must appear)
    let corpus: Vec<(&str, Vec<u8>, usize, usize, &str)> = vec![
        (
            "truncated.csv",
            truncated.into_bytes(),
            3,
            1,
            "expected 21 fields",
        ),
        (
            "bad_number.csv",
            bad_number.into_bytes(),
            2,
            1,
            "field `tenure`: \"thirty\" is not a number",
        ),
        ("crlf.csv", crlf.into_bytes(), 2, 0, ""),
        ("bom.csv", bom.into_bytes(), 2, 0, ""),
        ("quoted_newline.csv", quoted_newline.into_bytes(), 2, 0, ""),
        (
            "wrong_columns.csv",
            wrong_columns.into_bytes(),
            3,
            2,
            "expected 21 fields, found 3",
        ),
        (
            "not_utf8.csv",
            not_utf8,
            4,
            2,
            "expected 21 fields, found 2",
        ),
    ];
    for (name, bytes, rows_in, rows_rejected, reason) in corpus {
        let input = write(dir.path(), name, &bytes);
        let (out, scored, rejected) = score(&models, &input, dir.path());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(scored.len() + rejected.len(), rows_in, "{name}: rows lost");
        assert_eq!(rejected.len(), rows_rejected, "{name}: {rejected:?}");
        if !reason.is_empty() {
            assert!(
                rejected.iter().any(|r| r[1].contains(reason)),
                "{name}: {rejected:?}"
            );
        }
        if name == "not_utf8.csv" {
            let bytes_only: Vec<_> = rejected.iter().filter(|r| &r[0] == "5").collect();
            assert_eq!(bytes_only.len(), 1, "{rejected:?}");
            assert_eq!(
                &bytes_only[0][1],
                "column 10 (`internet_service`): value is not valid UTF-8"
            );
        }
        let summary = stderr(&out);
        assert!(
            summary.contains(&format!(
                "rows in {rows_in}, scored {}",
                rows_in - rows_rejected
            )),
            "{name}: {summary}"
        );
    }
}

#[test]
fn a_file_without_a_column_the_model_needs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let input = write(dir.path(), "partial.csv", b"customer_id,tenure\nA,3\n");
    let (out, _, _) = score(&models, &input, dir.path());
    assert_fails_with(&out, &["partial.csv", "line 1", "no column named"]);
    assert!(
        !dir.path().join("scored.csv").exists(),
        "no half-written output"
    );
}

#[test]
fn corrupted_partial_and_foreign_bundles_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let version = std::fs::read_to_string(models.join("CURRENT"))
        .unwrap()
        .trim()
        .to_string();
    let bundle = models.join(&version);
    let m = models.to_str().unwrap();
    assert!(run(&["inspect", "--models", m]).status.success());

    // One flipped byte in a model file.
    let segments = bundle.join("segments.json");
    let original = std::fs::read(&segments).unwrap();
    let mut flipped = original.clone();
    let at = flipped.iter().position(|&b| b == b'0').unwrap();
    flipped[at] = b'1';
    std::fs::write(&segments, &flipped).unwrap();
    assert_fails_with(
        &run(&["inspect", "--models", m]),
        &["segments.json", "corrupted bundle", "sha256"],
    );

    // A missing file.
    std::fs::remove_file(&segments).unwrap();
    assert_fails_with(
        &run(&["inspect", "--models", m]),
        &["segments.json", "missing"],
    );
    std::fs::write(&segments, &original).unwrap();

    // A format this build does not read.
    let manifest = bundle.join("manifest.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            &format!("\"format_version\": {}", custscore::bundle::FORMAT_VERSION),
            "\"format_version\": 99",
        ),
    )
    .unwrap();
    assert_fails_with(
        &run(&["inspect", "--models", m]),
        &["format 99 is not supported"],
    );
    std::fs::write(&manifest, &text).unwrap();

    // CURRENT naming a bundle that is not there, and no bundle at all.
    std::fs::write(models.join("CURRENT"), "20990101-000000-deadbeef\n").unwrap();
    assert_fails_with(
        &run(&["inspect", "--models", m]),
        &["20990101-000000-deadbeef"],
    );
    let empty = dir.path().join("empty");
    assert_fails_with(
        &run(&["inspect", "--models", empty.to_str().unwrap()]),
        &["no model bundle here"],
    );
}

#[test]
fn a_file_without_the_id_column_is_refused_and_a_row_without_an_id_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let good = std::fs::read_to_string(fixture("telco_400.csv")).unwrap();
    let lines: Vec<&str> = good.lines().take(3).collect();
    // Without the id column, rows would be named by their line numbers: refused instead.
    let no_id: String = lines
        .iter()
        .map(|l| format!("{}\n", l.split_once(',').unwrap().1))
        .collect();
    let input = write(dir.path(), "no_id.csv", no_id.as_bytes());
    let (out, _, _) = score(&models, &input, dir.path());
    assert_fails_with(&out, &["no_id.csv", "line 1", "`customer_id`"]);

    let blank_id = format!(
        "{}\n{}\n,{}\n",
        lines[0],
        lines[1],
        lines[2].split_once(',').unwrap().1
    );
    let input = write(dir.path(), "blank_id.csv", blank_id.as_bytes());
    let (out, scored, rejected) = score(&models, &input, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!((scored.len(), rejected.len()), (1, 1));
    assert!(
        rejected[0][1].contains("the customer id `customer_id` is missing"),
        "{rejected:?}"
    );
}
