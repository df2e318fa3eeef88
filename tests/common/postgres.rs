//! A throwaway PostgreSQL server for one test: initdb into a temp folder, start it on a
//! free loopback port as an unprivileged user (PostgreSQL refuses to run as root), stop
//! it (immediate mode) when dropped. Without PostgreSQL binaries the test fails with a
//! message, unless CUSTSCORE_SKIP_POSTGRES=1 says to skip on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
}

/// True when the caller asked to skip PostgreSQL tests (printed, never silent).
pub fn skipped(test: &str) -> bool {
    let skip = std::env::var("CUSTSCORE_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{test}: SKIPPED on request (CUSTSCORE_SKIP_POSTGRES=1)");
    }
    skip
}

/// The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl.
fn binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them \
             (apt-get install postgresql) or set CUSTSCORE_SKIP_POSTGRES=1 to skip these tests"
        ),
    }
}

/// The unprivileged account the server runs as.
const SERVER_USER: &str = "nobody";

fn as_server_user(bin: &Path, program: &str, args: &[&str]) -> Output {
    let output = Command::new("runuser")
        .args(["-u", SERVER_USER, "--"])
        .arg(bin.join(program))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} through runuser: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

impl Postgres {
    pub fn start() -> Postgres {
        let bin = binaries();
        let dir = tempfile::tempdir().unwrap();
        let chown = Command::new("chown")
            .args(["-R", &format!("{SERVER_USER}:")])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success(), "chown of {} failed", dir.path().display());
        let data = dir.path().join("data");
        let data = data.to_str().unwrap();
        as_server_user(
            &bin,
            "initdb",
            &[
                "-D",
                data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let port = super::http::free_port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=on",
            dir.path().display()
        );
        let log = dir.path().join("server.log");
        as_server_user(
            &bin,
            "pg_ctl",
            &[
                "-D",
                data,
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Postgres { bin, dir, port }
    }

    /// A URL for a fresh, empty database named `test_<name>`.
    pub fn database(&self, name: &str) -> String {
        let name = format!("test_{name}");
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", SERVER_USER, "--"])
            .arg(self.bin.join("pg_ctl"))
            .args([
                "-D",
                data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}
