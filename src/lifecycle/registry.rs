//! The versions in a models folder and the moves of `CURRENT` between them: list,
//! promote, rollback and garbage collection. See the module docs of `lifecycle` for the
//! order of a switch and why.

use super::error::{io_error, LifecycleError};
use super::gate::{self, GateRecord};
use super::history::{self, Action, HistoryEntry};
use super::lock::{SwitchLock, LOCK_WAIT};
use crate::bundle::{self, Bundle, BundleError, Manifest};
use serde::Serialize;
use std::fs;
use std::path::Path;

/// One version folder as `models list` shows it (read from its manifest, not verified).
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub version: String,
    pub created: Option<String>,
    /// First 12 hex digits of the training data's sha256.
    pub training_sha256: Option<String>,
    pub training_rows: Option<usize>,
    /// Cross-validated AUC of the chosen churn model.
    pub cv_auc: Option<f64>,
    /// Expected calibration error of the calibrated out-of-fold probabilities.
    pub cv_ece: Option<f64>,
    pub gate: Option<GateRecord>,
    pub current: bool,
    /// AUC of this version's contact-time churn probability against recorded `churned`
    /// outcomes, over its contacts (`models list` fills these from the outcomes store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realized_auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realized_contacts: Option<usize>,
    /// Why the manifest could not be read, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Everything `models list` prints: versions oldest first, and the history.
#[derive(Debug, Clone, Serialize)]
pub struct Registry {
    pub current: Option<String>,
    pub previous_champion: Option<String>,
    pub versions: Vec<VersionInfo>,
    pub history: Vec<HistoryEntry>,
}

/// A change of `CURRENT`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Switch {
    pub from: Option<String>,
    pub to: String,
}

/// `CURRENT`, or `None` when there is no bundle yet.
pub fn current(models: &Path) -> Result<Option<String>, LifecycleError> {
    match bundle::current_version(models) {
        Ok(v) => Ok(Some(v)),
        Err(BundleError::NoBundle { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Version folders (holding a manifest), sorted by name (names start with their time).
pub fn version_names(models: &Path) -> Result<Vec<String>, LifecycleError> {
    let entries = match fs::read_dir(models) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(models)(e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join(bundle::MANIFEST).is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| bundle::is_version_name(name))
        .collect();
    names.sort();
    Ok(names)
}

/// The champion before CURRENT, by replaying the history as a stack.
pub fn previous_champion(models: &Path) -> Result<Option<String>, LifecycleError> {
    let current = current(models)?;
    let stack = history::champions(&history::read(models)?, current.as_deref());
    Ok(stack.len().checked_sub(2).map(|i| stack[i].clone()))
}

pub fn list(models: &Path) -> Result<Registry, LifecycleError> {
    let current = current(models)?;
    let history = history::read(models)?;
    let stack = history::champions(&history, current.as_deref());
    let versions = version_names(models)?
        .into_iter()
        .map(|v| version_info(models, &v, current.as_deref()))
        .collect();
    Ok(Registry {
        previous_champion: stack.len().checked_sub(2).map(|i| stack[i].clone()),
        current,
        versions,
        history,
    })
}

fn version_info(models: &Path, version: &str, current: Option<&str>) -> VersionInfo {
    let dir = models.join(version);
    let mut info = VersionInfo {
        version: version.to_string(),
        created: None,
        training_sha256: None,
        training_rows: None,
        cv_auc: None,
        cv_ece: None,
        gate: gate::read_record(&dir),
        current: current == Some(version),
        realized_auc: None,
        realized_contacts: None,
        problem: None,
    };
    match read_manifest(&dir) {
        Ok(m) => {
            info.created = Some(m.created);
            info.training_sha256 = Some(m.training.sha256.chars().take(12).collect());
            info.training_rows = Some(m.training.rows);
            if let Some(r) = &m.metrics.retention {
                info.cv_auc = r.chosen_candidate().map(|c| c.auc);
                info.cv_ece = Some(r.ece);
            }
        }
        Err(reason) => info.problem = Some(reason),
    }
    info
}

fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let bytes = fs::read(dir.join(bundle::MANIFEST)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("unreadable manifest: {e}"))
}

/// The folder's switch lock, held until dropped; none when the folder does not exist
/// (there is nothing to switch, and the caller's own checks say so).
fn switch_lock(models: &Path) -> Result<Option<SwitchLock>, LifecycleError> {
    match models.is_dir() {
        true => SwitchLock::acquire(models, LOCK_WAIT).map(Some),
        false => Ok(None),
    }
}

/// Make `version` CURRENT after loading it with every check, then record the change.
/// Promoting the version already CURRENT changes and records nothing.
pub fn promote(
    models: &Path,
    version: &str,
    action: Action,
    reason: &str,
) -> Result<Switch, LifecycleError> {
    let _one_switch_at_a_time = switch_lock(models)?;
    promote_locked(models, version, action, reason)
}

/// [`promote`], only if CURRENT still names `decided_against` (the champion a decision
/// was made against; none: there was no bundle) once the switch lock is held, so a
/// decision taken before the lock never overrides a switch made meanwhile.
pub fn promote_over(
    models: &Path,
    version: &str,
    decided_against: Option<&str>,
    action: Action,
    reason: &str,
) -> Result<Switch, LifecycleError> {
    let _one_switch_at_a_time = switch_lock(models)?;
    let found = current(models)?;
    if found.as_deref() != decided_against {
        return Err(LifecycleError::ChampionMoved {
            version: version.to_string(),
            compared: decided_against.unwrap_or("(none)").to_string(),
            found: found.unwrap_or_else(|| "(none)".into()),
        });
    }
    promote_locked(models, version, action, reason)
}

/// [`promote`] under a switch lock the caller holds.
fn promote_locked(
    models: &Path,
    version: &str,
    action: Action,
    reason: &str,
) -> Result<Switch, LifecycleError> {
    bundle::check_version_name(version)?;
    if !models.join(version).is_dir() {
        return Err(LifecycleError::NoSuchVersion {
            dir: models.to_path_buf(),
            version: version.to_string(),
        });
    }
    let from = current(models)?;
    if from.as_deref() == Some(version) {
        return Ok(Switch {
            from,
            to: version.to_string(),
        });
    }
    Bundle::load(models, Some(version)).map_err(|source| LifecycleError::Refused {
        version: version.to_string(),
        source,
    })?;
    bundle::publish_current(models, version)?;
    history::append(
        models,
        &HistoryEntry::now(action, from.clone(), version, reason),
    )?;
    Ok(Switch {
        from,
        to: version.to_string(),
    })
}

/// Go back to the champion before CURRENT (two rollbacks go back two champions).
pub fn rollback(models: &Path, reason: &str) -> Result<Switch, LifecycleError> {
    let _one_switch_at_a_time = switch_lock(models)?;
    let current = current(models)?.ok_or_else(|| BundleError::NoBundle {
        dir: models.to_path_buf(),
    })?;
    let Some(previous) = previous_champion(models)? else {
        return Err(LifecycleError::NoPrevious { current });
    };
    promote_locked(models, &previous, Action::Rollback, reason)
}

/// Remove version folders beyond the newest `keep`, never CURRENT or the previous
/// champion; returns the versions removed. A folder is first renamed to a hidden name,
/// so a crash never leaves half a bundle under a version name.
pub fn gc(models: &Path, keep: usize) -> Result<Vec<String>, LifecycleError> {
    let _one_switch_at_a_time = switch_lock(models)?;
    let current = current(models)?;
    let previous = previous_champion(models)?;
    let names = version_names(models)?;
    let older = names.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for name in &names[..older] {
        if Some(name) == current.as_ref() || Some(name) == previous.as_ref() {
            continue;
        }
        remove_version(models, name)?;
        removed.push(name.clone());
    }
    Ok(removed)
}

fn remove_version(models: &Path, version: &str) -> Result<(), LifecycleError> {
    let dir = models.join(version);
    let hidden = models.join(format!(".removing-{version}"));
    fs::rename(&dir, &hidden).map_err(io_error(&dir))?;
    fs::remove_dir_all(&hidden).map_err(io_error(&hidden))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_against_a_champion_that_has_moved_is_not_applied() {
        let dir = tempfile::tempdir().unwrap();
        let models = dir.path();
        fs::create_dir(models.join("v1")).unwrap();
        fs::write(models.join(bundle::CURRENT), "v2\n").unwrap();
        let err = promote_over(models, "v1", Some("v0"), Action::Train, "test").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("compared it with v0") && message.contains("made v2 CURRENT"),
            "{message}"
        );
        assert_eq!(current(models).unwrap().as_deref(), Some("v2"));
        assert!(history::read(models).unwrap().is_empty());
        // With the champion unchanged the switch goes ahead (and verifies v1, which is
        // no bundle here).
        let err = promote_over(models, "v1", Some("v2"), Action::Train, "test").unwrap_err();
        assert!(matches!(err, LifecycleError::Refused { .. }), "{err}");
    }
}
