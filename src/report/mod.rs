//! The model report: one self-contained HTML file (inline CSS, inline SVG, a few lines of
//! inline script to sort tables; nothing fetched) describing the current bundle for an
//! analyst: data quality, segments, value pyramid, retention and cross-sell, and the
//! campaigns measured against the outcomes store.

mod campaign;
mod command;
mod crosssell;
mod cube;
mod drift;
mod lifetime;
mod retention;
mod svg;
mod value;

use crate::bundle::Bundle;
use crate::monitoring::DriftReport;
use crate::outcomes::CampaignReport;
use std::fmt::Write;
use svg::esc;

pub use command::{run_report, ReportError};

/// Render the whole report.
pub fn render(bundle: &Bundle) -> String {
    render_with_drift(bundle, None)
}

/// The report, with a drift section when a file (its name, its drift) was compared.
pub fn render_with_drift(bundle: &Bundle, drift: Option<(&str, &DriftReport)>) -> String {
    render_with_campaigns(bundle, drift, &[])
}

/// The report, with a campaigns section for the evaluated campaigns (and the bundle's
/// uplift model, when it has one).
pub fn render_with_campaigns(
    bundle: &Bundle,
    drift: Option<(&str, &DriftReport)>,
    campaigns: &[CampaignReport],
) -> String {
    let mut body = String::new();
    body.push_str(&overview(bundle));
    body.push_str(&segments(bundle));
    body.push_str(&pyramid(bundle));
    for section in extra_sections(bundle) {
        body.push_str(&section);
    }
    if let Some(section) = campaign::section(bundle, campaigns) {
        body.push_str(&section);
    }
    if let Some((source, report)) = drift {
        body.push_str(&drift::section(source, report));
    }
    let m = &bundle.manifest;
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>custscore report {version}</title>
<style>{STYLE}</style></head>
<body><header><h1>Customer model report</h1><p>bundle <code>{version}</code> · trained {created} on <code>{source}</code></p></header>
<main>{body}</main>
<script>{SCRIPT}</script>
</body></html>
"#,
        version = esc(&m.version),
        created = esc(&m.created),
        source = esc(&m.training.source),
    )
}

/// Sections from the other models, when the bundle has them.
fn extra_sections(bundle: &Bundle) -> Vec<String> {
    [
        value::section(bundle),
        cube::section(bundle),
        retention::section(bundle),
        crosssell::section(bundle),
        lifetime::sections(bundle),
    ]
    .into_iter()
    .flatten()
    .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\
header{background:#1f3b57;color:#fff;padding:16px 32px}header p{margin:4px 0 0;opacity:.85}header code{background:#2d5275;color:#fff}\
main{max-width:1100px;margin:0 auto;padding:8px 32px 48px}section{background:#fff;border:1px solid #e3e3e3;\
border-radius:6px;padding:8px 24px 16px;margin:20px 0}h2{border-bottom:2px solid #1f3b57;padding-bottom:4px}\
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 10px;\
text-align:left}th{cursor:pointer;background:#f2f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}\
svg.chart{width:100%;max-width:760px;height:auto;display:block;margin:8px 0}.grid{display:grid;\
grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}.card{border:1px solid #eee;border-radius:4px;\
padding:6px 12px}.muted{color:#666}code{background:#f2f4f7;padding:1px 4px;border-radius:3px}";

/// Click a header to sort its table (numbers numerically).
const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){\
th.addEventListener('click',function(){var t=th.closest('table'),b=t.tBodies[0],\
r=Array.from(b.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';\
r.sort(function(a,c){var x=a.cells[i].dataset.v||a.cells[i].textContent,y=c.cells[i].dataset.v||c.cells[i].textContent,\
p=parseFloat(x),q=parseFloat(y),d=(isNaN(p)||isNaN(q))?x.localeCompare(y):p-q;return asc?d:-d;});\
r.forEach(function(x){b.appendChild(x);});});});";

/// A sortable table; cells starting with a number are right-aligned.
pub(crate) fn table(id: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(r#"<table class="sortable" id="{id}"><thead><tr>"#);
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let numeric = cell.trim_end_matches('%').parse::<f64>().is_ok();
            let class = if numeric { r#" class="num""# } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

pub(crate) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

fn overview(bundle: &Bundle) -> String {
    let m = &bundle.manifest;
    let q = &bundle.quality;
    let mut out = String::from(r#"<section id="overview"><h2>Overview</h2>"#);
    let used = m.schema.columns.iter().filter(|c| c.used).count();
    let rows = vec![
        vec!["data set".to_string(), m.training.source.clone()],
        vec!["rows".into(), m.training.rows.to_string()],
        vec!["data sha256".into(), m.training.sha256.clone()],
        vec![
            "input columns (used)".into(),
            format!("{} ({used})", m.schema.columns.len()),
        ],
        vec!["model version".into(), m.version.clone()],
        vec!["created".into(), m.created.clone()],
        vec!["custscore".into(), m.custscore_version.clone()],
    ];
    out.push_str(&table("overview-table", &["", ""], &rows));
    out.push_str("<h3>Data quality</h3><ul>");
    let _ = write!(
        out,
        "<li>rows read {}, accepted {}, rejected {}, duplicate ids {}, out-of-domain cells {}</li>",
        q.rows_read, q.rows_accepted, q.rejected_total, q.duplicate_id_total, q.out_of_domain_total
    );
    let log = m.transactions.iter().flat_map(|t| t.quality.findings());
    for finding in log.chain(q.findings()) {
        let _ = write!(out, "<li>{}</li>", esc(&finding));
    }
    out.push_str("</ul></section>");
    out
}

fn segments(bundle: &Bundle) -> String {
    let s = &bundle.segments;
    let mut out = String::from(r#"<section id="segments"><h2>Segments</h2>"#);
    let names: Vec<String> = s.profiles.iter().map(|p| format!("{}", p.id)).collect();
    let mut series = vec![(
        "customer share",
        s.profiles.iter().map(|p| p.share).collect(),
    )];
    if s.profiles.iter().all(|p| p.value_share.is_some()) {
        series.push((
            "value share",
            s.profiles
                .iter()
                .map(|p| p.value_share.unwrap_or(0.0))
                .collect(),
        ));
    }
    if s.profiles.iter().all(|p| p.churn_rate.is_some()) {
        series.push((
            "churn rate",
            s.profiles
                .iter()
                .map(|p| p.churn_rate.unwrap_or(0.0))
                .collect(),
        ));
    }
    out.push_str(&svg::grouped_bars(
        "segment sizes and value shares",
        &names,
        &series,
        true,
    ));
    let rows: Vec<Vec<String>> = s
        .profiles
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.name.clone(),
                p.size.to_string(),
                pct(p.share),
                p.value_share.map_or("-".into(), pct),
                p.churn_rate.map_or("-".into(), pct),
            ]
        })
        .collect();
    out.push_str(&table(
        "segments-table",
        &[
            "id",
            "name",
            "customers",
            "share",
            "value share",
            "churn rate",
        ],
        &rows,
    ));
    let _ = write!(
        out,
        "<h3>Segment map</h3><p class=\"muted\">{} customers on the first two principal components \
         ({} and {} of the variance); large dots are the segment centres.</p>",
        s.projection.points.len(),
        pct(s.projection.explained[0]),
        pct(s.projection.explained[1])
    );
    let full_names: Vec<String> = s.profiles.iter().map(|p| p.name.clone()).collect();
    out.push_str(&svg::scatter(
        "segment map",
        &s.projection.points,
        &s.projection.centroids,
        &full_names,
    ));
    out.push_str(r#"<h3>What sets each segment apart</h3><div class="grid">"#);
    for p in &s.profiles {
        let _ = write!(
            out,
            r#"<div class="card"><h4>{} · {}</h4><ul>"#,
            p.id,
            esc(&p.name)
        );
        for d in &p.distinguishing {
            let _ = write!(
                out,
                "<li>{} <span class=\"muted\">({:+.2} sd)</span></li>",
                esc(&d.description),
                d.score
            );
        }
        for n in p.numeric.iter().take(6) {
            let _ = write!(
                out,
                "<li>{}: mean {} <span class=\"muted\">(all {:.2})</span></li>",
                esc(&n.column),
                n.mean.map_or("-".into(), |m| format!("{m:.2}")),
                n.overall_mean
            );
        }
        out.push_str("</ul></div>");
    }
    out.push_str("</div></section>");
    out
}

fn pyramid(bundle: &Bundle) -> String {
    let mut out = String::from(r#"<section id="pyramid"><h2>Value pyramid</h2>"#);
    let Some(p) = &bundle.pyramid else {
        out.push_str("<p>No value column was configured for this bundle.</p></section>");
        return out;
    };
    let _ = write!(
        out,
        "<p>Customers ranked by <code>{}</code> (total {:.2}). The point of the pyramid: a few customers carry most of the value.</p>",
        esc(&p.column),
        p.total_value
    );
    let names: Vec<String> = p.tiers.iter().map(|t| t.name.clone()).collect();
    let series = vec![
        (
            "customer share",
            p.tiers.iter().map(|t| t.customer_share).collect(),
        ),
        (
            "value share",
            p.tiers.iter().map(|t| t.value_share).collect(),
        ),
    ];
    out.push_str(&svg::grouped_bars(
        "value pyramid: customer share vs value share",
        &names,
        &series,
        true,
    ));
    let rows: Vec<Vec<String>> = p
        .tiers
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.customers.to_string(),
                pct(t.customer_share),
                format!("{:.2}", t.value_total),
                pct(t.value_share),
            ]
        })
        .collect();
    out.push_str(&table(
        "pyramid-table",
        &[
            "tier",
            "customers",
            "customer share",
            "value",
            "value share",
        ],
        &rows,
    ));
    out.push_str("</section>");
    out
}
