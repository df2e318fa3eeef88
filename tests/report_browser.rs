//! The HTML report opened in a real headless Chromium: every section and chart present,
//! no console errors, and a screenshot saved for a person to look at.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// Run headless Chromium on a file; returns (DOM after scripts ran, console lines).
fn open_in_browser(
    browser: &Path,
    page: &Path,
    profile: &Path,
    screenshot: Option<&Path>,
) -> (String, Vec<String>) {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,4000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(String::from)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn report_renders_in_a_real_browser_without_console_errors() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no chromium at /usr/bin (install Debian's chromium; .ci/run does)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let out = run(&[
        "train", "--customers", fixture("telco_400.csv").to_str().unwrap(), "--id", "customer_id",
        "--label", "churn=Yes", "--value", "total_charges", "--segments", "3",
        "--holdings", "phone_service,multiple_lines,internet_service,online_security,online_backup,device_protection,tech_support,streaming_tv,streaming_movies",
        "--models", models.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--models",
        models.to_str().unwrap(),
        "--output",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The console check is real: a page with an error is caught.
    let bad = write(
        dir.path(),
        "bad.html",
        b"<html><body><script>missingFunction();</script></body></html>",
    );
    let (_, console) = open_in_browser(&browser, &bad, &dir.path().join("p0"), None);
    assert!(
        console.iter().any(|l| l.contains("missingFunction")),
        "{console:?}"
    );

    let (dom, console) = open_in_browser(&browser, &page, &dir.path().join("p1"), None);
    assert!(console.is_empty(), "console messages: {console:?}");
    for id in ["overview", "segments", "pyramid", "retention"] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\"")),
            "section {id} missing"
        );
    }
    for chart in [
        "segment sizes and value shares",
        "segment map",
        "value pyramid: customer share vs value share",
        "calibration: observed churn rate by predicted probability",
    ] {
        assert!(
            dom.contains(&format!("aria-label=\"{chart}\"")),
            "chart {chart:?} missing"
        );
    }
    assert!(dom.contains("<circle"), "segment map has points");
    for table in [
        "candidates",
        "lift-by-decile",
        "rules-table",
        "pyramid-table",
    ] {
        assert!(
            dom.contains(&format!("id=\"{table}\"")),
            "table {table} missing"
        );
    }
    assert!(dom.contains("IF "), "the tree's if-then rules are shown");
    assert!(
        !dom.contains("http://") || !dom.contains("src=\"http"),
        "nothing fetched"
    );

    let shots = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    open_in_browser(&browser, &page, &dir.path().join("p2"), Some(&png));
    assert!(
        std::fs::metadata(&png)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot saved"
    );
}
