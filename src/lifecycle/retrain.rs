//! `train` under the gate: fit, save the new version without making it CURRENT, compare
//! it with the champion, record the decision, and promote only when the gate says so.

use super::error::LifecycleError;
use super::gate::{self, GateParams, GateRecord, PromoteMode};
use super::history::Action;
use super::registry;
use crate::bundle::{Bundle, BundleError};
use crate::config::TrainConfig;
use crate::progress::Progress;
use crate::train::{self, Holdout};
use std::path::{Path, PathBuf};

/// A trained, saved and gated version.
pub struct Trained {
    pub bundle: Bundle,
    pub dir: PathBuf,
    pub gate: GateRecord,
}

/// Train on `config`, save into `models`, gate against CURRENT and promote if it passes.
/// `holdout_file` is a labelled customer table; without it, and when there is a champion
/// to beat under `--promote auto`, a stratified 20% of the training rows is kept out of
/// fitting for the comparison.
pub fn train_gated(
    config: &TrainConfig,
    progress: &Progress,
    models: &Path,
    params: &GateParams,
    holdout_file: Option<&Path>,
) -> Result<Trained, LifecycleError> {
    // What CURRENT named when the gate's champion was read: the promotion below applies
    // only if no other switch happened while this one trained.
    let decided_against = registry::current(models).ok().flatten();
    let (champion, unusable) = load_champion(models);
    let given = holdout_file
        .map(|path| train::read_holdout(path, config))
        .transpose()?;
    let slice = champion.is_some() && given.is_none() && params.mode == PromoteMode::Auto;
    let (mut bundle, kept) = train::train_with_holdout(config, progress, slice, champion.as_ref())?;
    let holdout: Option<Holdout> = given.or(kept);
    progress.step("writing the bundle");
    let dir = bundle.save_version(models)?;
    progress.step("comparing with the champion");
    let mut record = gate::evaluate(params, &bundle, champion.as_ref(), holdout.as_ref());
    if let Some(why) = unusable {
        record.reasons.insert(0, why);
    }
    gate::write_record(&dir, &record)?;
    if record.promotes() {
        let reason = format!("train: gate {}", record.reasons.join("; "));
        let promoted = registry::promote_over(
            models,
            &bundle.manifest.version,
            decided_against.as_deref(),
            Action::Train,
            &reason,
        );
        if let Err(LifecycleError::ChampionMoved { found, .. }) = &promoted {
            // gate.json must not claim a promotion that did not happen.
            record.decision = gate::Decision::Refused;
            record.reasons.insert(
                0,
                format!("another switch made {found} CURRENT while this version trained"),
            );
            gate::write_record(&dir, &record)?;
        }
        promoted?;
    }
    Ok(Trained {
        bundle,
        dir,
        gate: record,
    })
}

/// The CURRENT bundle, verified; a CURRENT that fails verification is no champion (the
/// reason is kept for the gate record), since nothing can serve it anyway.
fn load_champion(models: &Path) -> (Option<Bundle>, Option<String>) {
    match Bundle::load(models, None) {
        Ok(bundle) => (Some(bundle), None),
        Err(BundleError::NoBundle { .. }) => (None, None),
        Err(e) => (
            None,
            Some(format!(
                "CURRENT cannot be loaded ({})",
                crate::error_chain(&e)
            )),
        ),
    }
}
