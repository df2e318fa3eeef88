//! The HTML report opened in a real headless Chromium: every section and chart present,
//! no console errors, nothing fetched from the network, and a screenshot saved for a
//! person to look at.
//!
//! A missing browser fails the test. Set `CUSTSCORE_SKIP_BROWSER=1` to skip it on
//! purpose (it then says so on stderr).

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// The browser to test with; `None` only when the user asked to skip.
fn browser_or_skip() -> Option<PathBuf> {
    if std::env::var("CUSTSCORE_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("SKIPPED on request (CUSTSCORE_SKIP_BROWSER=1)");
        return None;
    }
    match chromium() {
        Some(browser) => Some(browser),
        None => panic!(
            "no chromium at /usr/bin: install Debian's chromium (.ci/run does), \
             or set CUSTSCORE_SKIP_BROWSER=1 to skip this test"
        ),
    }
}

/// A stand-in HTTP proxy on loopback that records the first line of every request the
/// browser sends through it (`GET http://host/path HTTP/1.1`, `CONNECT host:443 …`) and
/// answers nothing. Chromium sends every http, https and ws request to it, so an
/// empty list means the page fetched nothing.
struct RecordingProxy {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingProxy {
    fn start() -> RecordingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                seen.lock().unwrap().push(line.trim_end().to_string());
            }
        });
        RecordingProxy { port, requests }
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    /// The requests of one page, less those the browser makes by itself: headless Chromium
    /// still contacts a few of its vendor's hosts at start-up whatever the page (seen:
    /// accounts.google.com, www.google.com), so the hosts it contacts for an empty page
    /// are learned first and left out.
    fn page_requests(&self, browser: &Path, dir: &Path) -> impl Fn(Vec<String>) -> Vec<String> {
        let empty = write(dir, "empty.html", b"<html><body></body></html>");
        self.take();
        open_in_browser(browser, &empty, &dir.join("p-empty"), self, None);
        let own: Vec<String> = self.take().iter().filter_map(|l| host(l)).collect();
        move |requests| {
            requests
                .into_iter()
                .filter(|line| host(line).is_none_or(|h| !own.contains(&h)))
                .collect()
        }
    }
}

/// The host a proxy request line names: `GET http://host/path …` or `CONNECT host:443 …`.
fn host(line: &str) -> Option<String> {
    let target = line.split_whitespace().nth(1)?;
    let rest = target.split_once("://").map_or(target, |(_, r)| r);
    let authority = rest.split('/').next()?;
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_string(),
    )
}

/// Run headless Chromium on a file with all traffic sent to `proxy`; returns (DOM after
/// scripts ran, console lines).
fn open_in_browser(
    browser: &Path,
    page: &Path,
    profile: &Path,
    proxy: &RecordingProxy,
    screenshot: Option<&Path>,
) -> (String, Vec<String>) {
    let mut cmd = Command::new(browser);
    cmd.arg(format!("--proxy-server=http://127.0.0.1:{}", proxy.port));
    // Loopback and local names go through the proxy too (Chromium bypasses them by default).
    cmd.arg("--proxy-bypass-list=<-loopback>");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
        "--disable-client-side-phishing-detection",
        "--disable-domain-reliability",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-field-trial-config",
        "--no-pings",
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
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().unwrap();
    let of_page = proxy.page_requests(&browser, dir.path());
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
    let (_, console) = open_in_browser(&browser, &bad, &dir.path().join("p0"), &proxy, None);
    proxy.take();
    assert!(
        console.iter().any(|l| l.contains("missingFunction")),
        "{console:?}"
    );

    let (dom, console) = open_in_browser(&browser, &page, &dir.path().join("p1"), &proxy, None);
    assert!(console.is_empty(), "console messages: {console:?}");
    let fetched = of_page(proxy.take());
    assert!(fetched.is_empty(), "the report fetched: {fetched:?}");
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
    let external = external_references(&dom);
    assert!(external.is_empty(), "external references: {external:?}");

    let shots = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report.png");
    let _ = std::fs::remove_file(&png);
    open_in_browser(&browser, &page, &dir.path().join("p2"), &proxy, Some(&png));
    assert!(
        std::fs::metadata(&png)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "screenshot saved"
    );
}

/// A campaign recorded through the CLI (score --campaign with half held back, simulated
/// responses imported), an uplift model learnt from it, and the report's campaigns
/// section checked in the browser against `evaluate --json` for the same campaign.
#[test]
fn the_campaigns_section_renders_the_evaluation_and_the_qini_curve() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().unwrap();
    let of_page = proxy.page_requests(&browser, dir.path());
    let models = dir.path().join("models");
    train_small(&models);
    let scored = dir.path().join("scored.csv");
    let models_arg = models.to_str().unwrap();
    let out = run(&[
        "score",
        "--input",
        fixture("telco_400.csv").to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
        "--models",
        models_arg,
        "--campaign",
        "spring",
        "--control-share",
        "0.5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let contact_version = std::fs::read_to_string(models.join("CURRENT")).unwrap();
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
            "3",
            "--base-response",
            "0.1",
            "--response-effect",
            "0.3",
        ])
        .output()
        .expect("python3 runs scripts/simulate_outcomes.py");
    assert!(simulated.status.success(), "{}", stderr(&simulated));
    let out = run(&[
        "outcomes",
        "import",
        events.to_str().unwrap(),
        "--models",
        models_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        "train",
        "--from-campaign",
        "spring",
        "--label",
        "responded",
        "--uplift",
        "--segments",
        "3",
        "--promote",
        "always",
        "--models",
        models_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        "evaluate",
        "--campaign",
        "spring",
        "--outcome",
        "responded",
        "--json",
        "--models",
        models_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let evaluated: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();

    let page = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--models",
        models_arg,
        "--output",
        page.to_str().unwrap(),
        "--outcome",
        "responded",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (dom, console) = open_in_browser(&browser, &page, &dir.path().join("p1"), &proxy, None);
    assert!(console.is_empty(), "console messages: {console:?}");
    let fetched = of_page(proxy.take());
    assert!(fetched.is_empty(), "the report fetched: {fetched:?}");
    assert!(
        dom.contains("<section id=\"campaigns\""),
        "campaigns section missing"
    );
    let version = contact_version.trim();
    for chart in [
        "responded rate by arm with 95% intervals".to_string(),
        format!("lift by decile, {version}"),
        format!("predicted vs observed by band, {version}"),
        "Qini curve on held-out contacts".to_string(),
    ] {
        assert!(
            dom.contains(&format!("aria-label=\"{chart}\"")),
            "chart {chart:?} missing"
        );
    }
    for table in ["arms", "effect", "versions", "deciles-1", "bands-1"] {
        assert!(
            dom.contains(&format!("id=\"campaign-1-{table}\"")),
            "table {table} missing"
        );
    }
    assert!(dom.contains("id=\"uplift-candidates\""));
    // The figures are evaluate's: the rate difference, its interval, the p-value, the AUC.
    let effect = &evaluated["effect"];
    let points = |x: &serde_json::Value| format!("{:+.2}", 100.0 * x.as_f64().unwrap());
    let ci = &effect["rate_difference_ci"];
    for shown in [
        points(&effect["rate_difference"]),
        format!("[{}, {}]", points(&ci[0]), points(&ci[1])),
        format!("p = {:.4}", effect["p_value"].as_f64().unwrap()),
        format!("{:.3}", evaluated["versions"][0]["auc"].as_f64().unwrap()),
    ] {
        assert!(dom.contains(&shown), "{shown} not in the section");
    }
    assert!(dom.contains("The difference is significant at the 5% level"));
    assert!(external_references(&dom).is_empty());

    let shots = repo().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("report-campaigns.png");
    let _ = std::fs::remove_file(&png);
    open_in_browser(&browser, &page, &dir.path().join("p2"), &proxy, Some(&png));
    assert!(
        std::fs::metadata(&png).is_ok_and(|m| m.len() > 10_000),
        "screenshot saved"
    );

    // A campaign the store does not hold is named in the error.
    let out = run(&[
        "report",
        "--models",
        models_arg,
        "--output",
        page.to_str().unwrap(),
        "--campaign",
        "autumn",
    ]);
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("--campaign autumn") && message.contains("spring"),
        "{message}"
    );
}

const LIFETIME_CHART: &str =
    "aria-label=\"lifetime holdout check: mean purchases per customer by calibration frequency\"";
const RFM_CHART: &str = "aria-label=\"RFM grid: customers by recency and frequency score\"";

#[test]
fn an_order_log_report_shows_the_holdout_check_and_the_rfm_grid() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    let log = fixture("retail_sample.csv");
    let mut args = vec!["train", "--transactions", log.to_str().unwrap()];
    args.extend(RETAIL_LOG_COLUMNS);
    args.extend(["--segments", "3", "--models", models.to_str().unwrap()]);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = dir.path().join("report.html");
    let models = models.to_str().unwrap();
    let out = run(&[
        "report",
        "--models",
        models,
        "--output",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let (dom, console) = open_in_browser(&browser, &page, &dir.path().join("p"), &proxy, None);
    assert!(console.is_empty(), "console messages: {console:?}");
    for expected in [
        "<section id=\"lifetime\"",
        "<section id=\"rfm\"",
        LIFETIME_CHART,
        RFM_CHART,
        "id=\"holdout-table\"",
        "id=\"lifetime-candidates\"",
        "id=\"lifecycle-table\"",
        "aria-label=\"lifecycle status: share of customers\"",
    ] {
        assert!(dom.contains(expected), "{expected} missing");
    }
    // Every candidate was checked, and the one answering is named.
    for model in [
        "BG/NBD predicted",
        "MBG/NBD predicted",
        "Pareto/NBD predicted",
    ] {
        assert!(
            dom.contains(model),
            "{model} missing from the holdout chart"
        );
    }
    assert!(dom.contains("answers: the lowest holdout error"));
    // The grid's 25 cells hold every training customer once.
    let grid_start = dom.find(RFM_CHART).unwrap();
    let grid = &dom[grid_start..grid_start + dom[grid_start..].find("</svg>").unwrap()];
    let cells: usize = grid
        .match_indices(" customers, mostly")
        .map(|(at, _)| {
            let before = &grid[..at];
            before[before.rfind(' ').unwrap() + 1..]
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(grid.matches("<rect").count(), 25, "one rect per cell");
    let lifecycle_total: usize = table_column_sum(&dom, "lifecycle-table", 1);
    assert_eq!(
        cells, lifecycle_total,
        "grid and lifecycle count the same customers"
    );
    assert!(cells > 50, "{cells} customers in the grid");
    let external = external_references(&dom);
    assert!(external.is_empty(), "external references: {external:?}");
}

/// Sum of one column of a report table (its cells as the page shows them).
fn table_column_sum(dom: &str, id: &str, column: usize) -> usize {
    let start = dom.find(&format!("id=\"{id}\"")).unwrap();
    let end = start + dom[start..].find("</table>").unwrap();
    dom[start..end]
        .split("<tr>")
        .skip(2)
        .filter_map(|row| {
            let cell = row.split("<td").nth(column + 1)?;
            let text = &cell[cell.find('>')? + 1..cell.find("</td>")?];
            text.parse::<usize>().ok()
        })
        .sum()
}

/// Attribute values and CSS that would make a browser fetch something from elsewhere:
/// `src`, `href`, `action`, `poster`, `srcset`, `data`, `url(…)` and `@import` naming an
/// http(s) or protocol-relative (`//host`) address. Namespace declarations (`xmlns`)
/// name a URL without fetching it and are not counted.
fn external_references(html: &str) -> Vec<String> {
    // Lower case, and no white space, so `SRC = "HTTP…"` reads as `src="http…"`.
    let lower: String = html
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let mut found = Vec::new();
    let openers = [
        "src=", "href=", "action=", "poster=", "srcset=", "data=", "url(", "@import",
    ];
    for opener in openers {
        let mut from = 0;
        while let Some(at) = lower[from..].find(opener) {
            let start = from + at + opener.len();
            let value = lower[start..].trim_start_matches([' ', '"', '\'']);
            if value.starts_with("http:") || value.starts_with("https:") || value.starts_with("//")
            {
                let end = value
                    .find(['"', '\'', ')', ' ', '>'])
                    .unwrap_or(value.len());
                found.push(format!("{opener}{}", &value[..end]));
            }
            from = start;
        }
    }
    found
}

#[test]
fn the_nothing_fetched_checks_catch_a_page_that_loads_from_elsewhere() {
    // The static check, on every way a page commonly names another server.
    for page in [
        r#"<img src="https://cdn.example.com/a.png">"#,
        r#"<script src='http://example.com/x.js'></script>"#,
        r#"<link rel="stylesheet" href="//fonts.example.com/f.css">"#,
        r#"<div style="background: url(https://example.com/bg.png)"></div>"#,
        r#"<style>@import "https://example.com/s.css";</style>"#,
        r#"<IMG SRC = "HTTPS://EXAMPLE.COM/A.PNG">"#,
    ] {
        assert!(!external_references(page).is_empty(), "missed: {page}");
    }
    for page in [
        r#"<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>"#,
        r##"<a href="#segments">segments</a><img src="data:image/png;base64,AA==">"##,
    ] {
        assert!(external_references(page).is_empty(), "false alarm: {page}");
    }

    // The browser check: a page that loads an image and a script from another server is
    // seen asking for both.
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let proxy = RecordingProxy::start();
    let dir = tempfile::tempdir().unwrap();
    let of_page = proxy.page_requests(&browser, dir.path());
    let page = write(
        dir.path(),
        "external.html",
        b"<html><body><img src=\"http://example.com/pixel.png\">\
          <script src=\"http://cdn.example.com/lib.js\"></script></body></html>",
    );
    open_in_browser(&browser, &page, &dir.path().join("p"), &proxy, None);
    let fetched = of_page(proxy.take());
    for url in [
        "http://example.com/pixel.png",
        "http://cdn.example.com/lib.js",
    ] {
        assert!(
            fetched.iter().any(|line| line.contains(url)),
            "{url} not seen in {fetched:?}"
        );
    }
}
