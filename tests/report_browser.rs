//! The HTML report opened in a real headless Chromium: every section and chart present,
//! no console errors, nothing fetched from the network, and a screenshot of the whole
//! page, every section in it drawn, saved for a person to look at.
//!
//! A missing browser fails the test. Set `CUSTSCORE_SKIP_BROWSER=1` to skip it on
//! purpose (it then says so on stderr).

mod common;
use common::browser::{undrawn_sections, Browser};
use common::*;
use std::path::Path;
use std::process::Command;

/// `custscore report` for the bundle in `models`, written to `page`.
fn report(models: &str, page: &Path, extra: &[&str]) {
    let mut args = vec![
        "report",
        "--models",
        models,
        "--output",
        page.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn report_renders_in_a_real_browser_without_console_errors() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = browser.dir();
    let models = dir.join("models");
    train_small_with(
        &models,
        &["--holdings", "phone_service,multiple_lines,internet_service,online_security,online_backup,device_protection,tech_support,streaming_tv,streaming_movies"],
    );
    let page = dir.join("report.html");
    report(models.to_str().unwrap(), &page, &[]);

    // The console check is real: a page with an error is caught.
    let bad = write(
        dir,
        "bad.html",
        b"<html><body><script>missingFunction();</script></body></html>",
    );
    let (_, console) = browser.open(&bad);
    assert!(
        console.iter().any(|l| l.contains("missingFunction")),
        "{console:?}"
    );

    let dom = browser.open_clean(&page);
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

    let layout = browser.screenshot(&page, "report.png");
    for id in ["overview", "segments", "pyramid", "retention"] {
        assert!(layout.has_section(id), "{id} not in {layout:?}");
    }
}

/// A campaign recorded through the CLI (score --campaign with half held back, simulated
/// responses imported), an uplift model learnt from it, and the report's campaigns
/// section checked in the browser against `evaluate --json` for the same campaign.
#[test]
fn the_campaigns_section_renders_the_evaluation_and_the_qini_curve() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let dir = browser.dir();
    let models = dir.join("models");
    train_small(&models);
    let scored = dir.join("scored.csv");
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
    let events = dir.join("events.csv");
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
    let out = import_outcomes(&models, &events, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = train_spring_uplift(&models, &[]);
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

    let page = dir.join("report.html");
    report(models_arg, &page, &["--outcome", "responded"]);
    let dom = browser.open_clean(&page);
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

    let layout = browser.screenshot(&page, "report-campaigns.png");
    assert!(layout.has_section("campaigns"), "{layout:?}");

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
    let Some(browser) = Browser::start() else {
        return;
    };
    let models = browser.dir().join("models");
    train_retail_log(&models, &[]);
    let page = browser.dir().join("report.html");
    report(models.to_str().unwrap(), &page, &[]);

    let dom = browser.open_clean(&page);
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

    let layout = browser.screenshot(&page, "report-lifetime.png");
    for id in ["lifetime", "rfm"] {
        assert!(layout.has_section(id), "{id} not in {layout:?}");
    }
}

#[test]
fn the_screenshot_check_sees_a_section_left_blank_or_below_the_screenshot() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let page = write(
        browser.dir(),
        "blank.html",
        b"<html><body><section id=\"shown\"><h2>Shown</h2><p>text</p>\
          <div style=\"height:600px;border:1px solid\"></div></section>\
          <section id=\"hidden\" style=\"visibility:hidden\"><h2>Hidden</h2>\
          <div style=\"height:600px;border:1px solid\"></div></section></body></html>",
    );
    let layout = browser.layout(&page);
    assert!(
        layout.has_section("shown") && layout.has_section("hidden"),
        "{layout:?}"
    );
    let whole = browser.shoot(&page, &browser.dir().join("whole.png"), layout.height);
    assert_eq!((whole.width, whole.height), (1280, layout.height));
    let problems = undrawn_sections(&whole, &layout);
    assert!(
        problems.len() == 1 && problems[0].starts_with("section hidden is blank"),
        "{problems:?}"
    );
    let top = browser.shoot(&page, &browser.dir().join("top.png"), 400);
    let problems = undrawn_sections(&top, &layout);
    assert!(
        problems.len() == 2 && problems.iter().all(|p| p.contains("below the screenshot")),
        "{problems:?}"
    );
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
    let Some(browser) = Browser::start() else {
        return;
    };
    let page = write(
        browser.dir(),
        "external.html",
        b"<html><body><img src=\"http://example.com/pixel.png\">\
          <script src=\"http://cdn.example.com/lib.js\"></script></body></html>",
    );
    browser.open(&page);
    let fetched = browser.fetched();
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
