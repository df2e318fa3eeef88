//! `custscore score` on the inputs a pipe stage gets: header-less CSV (`--columns`,
//! `--columns-from-bundle`), JSON Lines, standard input and output, and rejects marked in
//! the output stream. Each is checked against scoring the same rows from a file with a
//! header.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Run custscore with `stdin` piped in.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, _) in std::env::vars() {
        if key.starts_with("CUSTSCORE_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd.spawn().expect("the custscore binary runs");
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// The telco fixture's header and rows.
fn telco() -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(fixture("telco_400.csv")).unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    (header, reader.records().map(|r| r.unwrap()).collect())
}

/// The rows as CSV without a header, with the columns `columns` (picked by name).
fn headerless(header: &[String], rows: &[csv::StringRecord], columns: &[String]) -> Vec<u8> {
    let at: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == c).unwrap())
        .collect();
    let mut out = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        out.write_record(at.iter().map(|&i| &row[i])).unwrap();
    }
    out.into_inner().unwrap()
}

/// The bundle's column list as `inspect` prints it.
fn bundle_columns(models: &Path) -> Vec<String> {
    let out = run(&["inspect", "--models", models.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("columns of header-less input (score --columns-from-bundle): ")
        })
        .expect("inspect lists the bundle's columns");
    line.split(',').map(String::from).collect()
}

/// Scored CSV of the fixture read from a file with its header, without the header line.
fn reference(models: &Path, dir: &Path) -> Vec<u8> {
    let output = dir.join("reference.csv");
    let out = score_with(models, &fixture("telco_400.csv"), &output, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&output).unwrap();
    let body = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    bytes[body..].to_vec()
}

#[test]
fn header_less_csv_and_json_lines_score_as_the_file_with_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let m = models.to_str().unwrap();
    let expected = reference(&models, dir.path());
    let (header, rows) = telco();

    // --columns-from-bundle: id first, then the inputs in training order.
    let columns = bundle_columns(&models);
    assert_eq!(columns[0], "customer_id");
    assert!(!columns.contains(&"churn".to_string()), "{columns:?}");
    let input = headerless(&header, &rows, &columns);
    let rejects = dir.path().join("r1.csv");
    let r = rejects.to_str().unwrap();
    let args = [
        "score",
        "--input",
        "-",
        "--output",
        "-",
        "--rejects",
        r,
        "--no-header",
        "--columns-from-bundle",
        "--models",
        m,
    ];
    let out = run_with_stdin(&args, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(csv_rows(&rejects).len(), 0);

    // --columns in the file's own order (the label column is extra and ignored).
    let input = headerless(&header, &rows, &header);
    let names = header.join(",");
    let args = [
        "score",
        "--input",
        "-",
        "--output",
        "-",
        "--rejects",
        r,
        "--no-header",
        "--columns",
        &names,
        "--models",
        m,
    ];
    let out = run_with_stdin(&args, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, expected);

    // JSON Lines (by the file name): numbers as JSON numbers where they parse.
    let mut jsonl = String::new();
    for row in &rows {
        let object: serde_json::Map<String, serde_json::Value> = header
            .iter()
            .zip(row.iter())
            .map(|(name, cell)| {
                let value = match cell.parse::<f64>() {
                    Ok(x) if name != "customer_id" => serde_json::json!(x),
                    _ => serde_json::json!(cell),
                };
                (name.clone(), value)
            })
            .collect();
        jsonl.push_str(&serde_json::to_string(&object).unwrap());
        jsonl.push('\n');
    }
    let path = write(dir.path(), "customers.jsonl", jsonl.as_bytes());
    let scored = dir.path().join("from_jsonl.csv");
    let out = score_with(&models, &path, &scored, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&scored).unwrap();
    let body = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(
        String::from_utf8_lossy(&bytes[body..]),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn rejects_marked_in_the_output_add_up_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let m = models.to_str().unwrap();
    let (header, rows) = telco();
    let columns = bundle_columns(&models);
    let mut input = headerless(&header, &rows[..50], &columns);
    input.extend_from_slice(b"only,three,fields\n");
    input.extend_from_slice(&headerless(&header, &rows[50..60], &columns));
    // A row without its id (the first column).
    let mut no_id = headerless(&header, &rows[60..61], &columns);
    let comma = no_id.iter().position(|&b| b == b',').unwrap();
    no_id.drain(..comma);
    input.extend_from_slice(&no_id);
    let args = [
        "score",
        "--input",
        "-",
        "--output",
        "-",
        "--rejects",
        "-",
        "--no-header",
        "--columns-from-bundle",
        "--models",
        m,
    ];
    let out = run_with_stdin(&args, &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(out.stdout.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let width = records[0].len();
    assert!(records.iter().all(|r| r.len() == width));
    let rejected: Vec<&csv::StringRecord> = records
        .iter()
        .filter(|r| !r[width - 2].is_empty())
        .collect();
    assert_eq!(records.len(), 62, "in = out + rejects");
    assert_eq!(rejected.len(), 2);
    assert!(
        rejected[0][width - 2].starts_with("line 51: expected"),
        "{:?}",
        rejected[0]
    );
    assert_eq!(&rejected[0][width - 1], "only,three,fields");
    assert!(
        rejected[1][width - 2].starts_with("line 62: column 1: "),
        "{:?}",
        rejected[1]
    );
    assert!(
        stderr(&out).contains("rejected 2 (marked in the output)"),
        "{}",
        stderr(&out)
    );

    // JSON Lines in and out: a bad line is a marked line naming line and field.
    let jsonl = concat!(
        "{\"customer_id\":\"A-1\",\"tenure\":3,\"contract\":\"Two year\"}\n",
        "{\"customer_id\":\"A-2\",\"tenure\":[3]}\n",
        "{\"customer_id\":\"A-3\",\n",
        "{\"customer_id\":\"A-4\",\"monthly_charges\":\"20.5\"}\n",
    );
    let args = [
        "score",
        "--input",
        "-",
        "--input-format",
        "jsonl",
        "--output",
        "-",
        "--rejects",
        "-",
        "--format",
        "jsonl",
        "--models",
        m,
    ];
    let out = run_with_stdin(&args, jsonl.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let marked: Vec<&serde_json::Value> = lines.iter().filter_map(|l| l.get("_rejected")).collect();
    assert_eq!(marked.len(), 2);
    assert_eq!(marked[0]["line"], 2);
    assert_eq!(
        marked[0]["reason"],
        "field `tenure`: expected a number or a string, got an array"
    );
    assert_eq!(marked[1]["line"], 3);
    assert!(marked[1]["reason"]
        .as_str()
        .unwrap()
        .starts_with("invalid JSON at column"));
    let ids: Vec<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(ids, ["A-1", "A-4"]);
}

#[test]
fn a_cutoff_beside_a_customer_file_is_refused_not_ignored() {
    // The cut-off dates an order log's features; a customer file has none to date.
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", b"customer_id,tenure\n1,3\n");
    let i = input.to_str().unwrap();
    for command in ["score", "drift"] {
        let mut args = vec![command, "--input", i, "--cutoff", "2011-06-01"];
        if command == "score" {
            args.extend(["--output", "-"]);
        }
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        let refusal = err.lines().next().unwrap_or_default();
        assert!(
            refusal.contains("cannot be used with") && refusal.contains("--cutoff"),
            "{command}: {err}"
        );
    }
}

#[test]
fn header_less_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    train_small(&models);
    let m = models.to_str().unwrap();
    let input = write(dir.path(), "in.csv", b"7590-VHVEG,1\n");
    let output = dir.path().join("out.csv");
    let refused = |flags: &[&str], needle: &str| {
        let mut args = vec![
            "score",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--no-header",
            "--models",
            m,
        ];
        args.extend_from_slice(flags);
        assert_fails_with(&run(&args), &[needle]);
    };
    refused(&[], "--no-header needs the column names");
    refused(
        &["--columns", "customer_id,tenure,tenure"],
        "`tenure` is named twice",
    );
    // A column the model needs is missing from the names given.
    refused(&["--columns", "customer_id,tenure"], "no column named");
    refused(
        &["--input-format", "jsonl", "--columns-from-bundle"],
        "JSON Lines input names its fields",
    );
}

#[test]
fn an_output_that_is_a_pipe_is_written_in_place_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    assert!(train_small(&models).status.success());
    let pipe = dir.path().join("scored.pipe");
    let made = Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let (sender, received) = std::sync::mpsc::channel();
    let reading = pipe.clone();
    std::thread::spawn(move || {
        let _ = sender.send(std::fs::read(&reading));
    });
    let out = score_with(&models, &fixture("telco_400.csv"), &pipe, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = received
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the scored rows arrive through the pipe")
        .unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 401);
    let kind = std::fs::metadata(&pipe).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe is still a pipe");
}
