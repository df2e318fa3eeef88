//! `custscore models list|promote|rollback|gc`: the registry on the command line.

use crate::cli::ModelsAction;
use crate::lifecycle::gate::{Decision, GateRecord};
use crate::lifecycle::{registry, Action, LifecycleError, Registry, VersionInfo};
use std::fmt::Write as _;

pub fn run_models(action: ModelsAction) -> Result<(), LifecycleError> {
    match action {
        ModelsAction::List { json, db, models } => {
            let mut registry = registry::list(&models.models)?;
            add_realized_aucs(&mut registry, &db.location(&models.models));
            match json {
                true => println!("{}", to_json(&registry)),
                false => print!("{}", describe(&registry)),
            }
        }
        ModelsAction::Promote { version, models } => {
            let switch =
                registry::promote(&models.models, &version, Action::Promote, "models promote")?;
            println!("CURRENT: {} -> {}", show(switch.from.as_deref()), switch.to);
        }
        ModelsAction::Rollback { models } => {
            let switch = registry::rollback(&models.models, "models rollback")?;
            println!(
                "rolled back; CURRENT: {} -> {}",
                show(switch.from.as_deref()),
                switch.to
            );
        }
        ModelsAction::Gc { keep, models } => {
            let removed = registry::gc(&models.models, keep)?;
            if removed.is_empty() {
                println!("nothing to remove");
            }
            for version in removed {
                println!("removed {version}");
            }
        }
    }
    Ok(())
}

/// Realized AUCs from the outcomes store; a store that cannot be read leaves them out
/// (with a note) rather than failing the listing.
fn add_realized_aucs(registry: &mut Registry, location: &crate::outcomes::StoreLocation) {
    let realized = match crate::outcomes_cli::realized_aucs(location) {
        Ok(realized) => realized,
        Err(e) => {
            eprintln!("realized AUC not shown: {}", crate::error_chain(&e));
            return;
        }
    };
    crate::outcomes::realized::attach(registry, &realized);
}

fn to_json(registry: &Registry) -> String {
    serde_json::to_string_pretty(registry).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn show(version: Option<&str>) -> &str {
    version.unwrap_or("(none)")
}

/// The versions as a table, then the previous champion and the history.
pub fn describe(registry: &Registry) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  {:<28} {:<20} {:<12} {:>6} {:>7} {:>7} {:>16}  gate",
        "version", "created", "data sha256", "rows", "CV AUC", "CV ECE", "realized AUC (n)"
    );
    for v in &registry.versions {
        let _ = writeln!(out, "{}", version_line(v));
    }
    let _ = writeln!(out, "(* = CURRENT)");
    let _ = writeln!(
        out,
        "previous champion: {}",
        show(registry.previous_champion.as_deref())
    );
    let _ = writeln!(
        out,
        "history ({} changes of CURRENT):",
        registry.history.len()
    );
    for h in &registry.history {
        let action = serde_json::to_value(h.action)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} {:<8} {} -> {}  ({})",
            h.time,
            action,
            show(h.from.as_deref()),
            h.to,
            h.reason
        );
    }
    out
}

fn version_line(v: &VersionInfo) -> String {
    let number = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.4}"));
    let text = |x: &Option<String>| x.clone().unwrap_or_else(|| "-".into());
    let mut line = format!(
        "{} {:<28} {:<20} {:<12} {:>6} {:>7} {:>7} {:>16}  {}",
        if v.current { "*" } else { " " },
        v.version,
        text(&v.created),
        text(&v.training_sha256),
        v.training_rows.map_or("-".to_string(), |r| r.to_string()),
        number(v.cv_auc),
        number(v.cv_ece),
        match (v.realized_auc, v.realized_contacts) {
            (Some(auc), Some(n)) => format!("{auc:.4} ({n})"),
            _ => "-".to_string(),
        },
        gate_summary(v.gate.as_ref()),
    );
    if let Some(problem) = &v.problem {
        let _ = write!(line, "  [{problem}]");
    }
    line
}

fn gate_summary(gate: Option<&GateRecord>) -> String {
    let Some(g) = gate else {
        return "-".into();
    };
    let decision = match g.decision {
        Decision::Promoted => "promoted",
        Decision::Refused => "refused",
        Decision::Saved => "saved",
    };
    let figures = match (g.challenger_figures, g.champion_figures) {
        (Some(new), Some(old)) => format!(
            " (holdout AUC {:.4} vs {:.4}, ECE {:.4})",
            new.auc, old.auc, new.ece
        ),
        (Some(new), None) => format!(" (holdout AUC {:.4}, ECE {:.4})", new.auc, new.ece),
        _ => match g.champion {
            None => " (no champion)".to_string(),
            Some(_) => String::new(),
        },
    };
    format!("{decision}{figures}")
}
